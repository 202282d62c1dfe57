// The deploy form: a folder picked in the browser is sent as its files plus their relative paths,
// and the upload shows a progress bar. On success the browser follows the redirect to the deploy.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.id !== "deploy-form") return;
  const folder = form.querySelector("input[name=folder]");
  if (folder) {
    const paths = Array.from(folder.files).map((f) => f.webkitRelativePath || f.name);
    form.querySelector("input[name=folder_paths]").value = JSON.stringify(paths);
  }
  event.preventDefault();
  const bar = document.getElementById("upload-progress");
  bar.hidden = false;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) bar.querySelector(".bar").style.width = Math.round((100 * e.loaded) / e.total) + "%";
  };
  xhr.onload = () => {
    if (xhr.status === 200 && xhr.responseURL && xhr.responseURL !== location.href && !xhr.responseURL.endsWith("/deploys/")) {
      location.assign(xhr.responseURL);
    } else {
      document.open();
      document.write(xhr.responseText);
      document.close();
    }
  };
  xhr.onerror = () => { bar.hidden = true; alert("The upload failed: the portal could not be reached. Try again."); };
  xhr.send(new FormData(form));
});
