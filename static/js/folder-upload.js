// A folder picked in the browser is sent as its files plus their relative paths.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const folder = form.querySelector("input[name=folder]");
  if (!folder) return;
  const paths = Array.from(folder.files).map((f) => f.webkitRelativePath || f.name);
  form.querySelector("input[name=folder_paths]").value = JSON.stringify(paths);
});
