"""A deployment's runtime settings and their rules: worker queues, resources, hibernation schedules."""
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from deployments.models import (
    component_resources,
    normalize_worker_queues,
    validate_hibernation_schedules,
    validate_resources,
    validate_worker_queues,
)
from deployments.models.cron import CronError, parse


def queue(name="default", **values):
    return {"name": name, "min_workers": 1, "max_workers": 3, "concurrency": 5, **values}


@pytest.mark.parametrize("value, message", [
    ([], "at least one"),
    ([{"name": "default"}], "exactly name, min_workers, max_workers and concurrency"),
    ([queue(), {**queue("heavy"), "colour": "red"}], "exactly name"),
    ([queue("Bad Name")], "lower-case"),
    ([queue(), queue()], "twice"),
    ([queue(min_workers=-1)], "min_workers must be a whole number from 0"),
    ([queue(max_workers=0)], "max_workers must be a whole number from 1"),
    ([queue(concurrency=True)], "concurrency must be"),
    ([queue(min_workers=4, max_workers=2)], "min_workers \\(4\\) is above max_workers \\(2\\)"),
    ([queue("heavy")], "Keep the 'default' queue"),
    ([queue(), queue("big", memory=100)], "Queue 'big': memory is in MiB"),
    ([queue(cpu="lots")], "cpu is in cores"),
])
def test_it_rejects_bad_worker_queues_with_a_clear_message(value, message):
    with pytest.raises(ValidationError, match=message):
        validate_worker_queues(value)


def test_it_accepts_queues_with_their_own_cpu_and_memory():
    validate_worker_queues([queue(min_workers=0), queue("big", cpu=2, memory=8192)])


def test_a_fixed_number_of_workers_is_a_minimum_and_maximum_of_that_number():
    assert normalize_worker_queues([{"name": "default", "workers": 2, "concurrency": 8}]) == [
        {"name": "default", "concurrency": 8, "min_workers": 2, "max_workers": 2}]


@pytest.mark.parametrize("value, message", [
    ([], "Give resources as"),
    ({"schedulr": {"cpu": 1}}, "unknown component 'schedulr'"),
    ({"worker": {"cpu": 1}}, "workers: on their queue"),
    ({"scheduler": {"cpu": 0.01}}, "cpu is in cores, a number from 0.1"),
    ({"scheduler": {"memory": 1.5}}, "memory is in MiB, a whole number"),
    ({"scheduler": {"disk": 1}}, "unknown disk"),
])
def test_it_rejects_bad_resources_with_a_clear_message(value, message):
    with pytest.raises(ValidationError, match=message):
        validate_resources(value)


def test_a_component_takes_its_own_resources_over_the_defaults():
    queues = [queue(), queue("big", memory=8192)]
    assert component_resources({"scheduler": {"cpu": 2}}, queues, "scheduler") == {"cpu": 2, "memory": 2048}
    assert component_resources({}, queues, "worker-big") == {"cpu": 1.0, "memory": 8192}
    assert component_resources({}, queues, "worker-default") == {"cpu": 1.0, "memory": 2048}


@pytest.mark.parametrize("value, message", [
    ({}, "as a list"),
    ([{"hibernate_at": "0 19 * * *"}], "give hibernate_at and wake_at"),
    ([{"hibernate_at": "0 25 * * *", "wake_at": "0 7 * * *"}], "hibernate_at: hour: 25 is outside 0-23"),
    ([{"hibernate_at": "0 19 * *", "wake_at": "0 7 * * *"}], "give five fields"),
    ([{"hibernate_at": "0 19 * * *", "wake_at": "0 7 * * 5-1"}], "runs backwards"),
    ([{"hibernate_at": "0 19 * * *", "wake_at": "0 7 * * *", "enabled": "yes"}], "enabled is true or false"),
])
def test_it_rejects_bad_hibernation_schedules_with_a_clear_message(value, message):
    with pytest.raises(ValidationError, match=message):
        validate_hibernation_schedules(value)


def test_cron_matches_as_cron_does():
    weekdays = parse("0 19 * * 1-5")
    friday = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
    assert weekdays.matches(friday) and not weekdays.matches(friday + timedelta(days=1))
    assert not weekdays.matches(friday + timedelta(minutes=1))
    assert parse("*/15 * * * *").matches(friday.replace(minute=45))
    assert parse("0 0 * * 7").matches(datetime(2026, 12, 6, tzinfo=UTC))  # 7 is Sunday, as 0
    either = parse("0 0 1 * 1")  # day of month and day of week both given: either matches
    assert either.matches(datetime(2026, 12, 1, tzinfo=UTC)) and either.matches(datetime(2026, 12, 7, tzinfo=UTC))
    assert weekdays.last_before(friday + timedelta(hours=30)) == friday
    with pytest.raises(CronError):
        parse("60 * * * *")
