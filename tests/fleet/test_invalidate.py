"""32 PHP and Python processes spread over three hosts all hold a token that
the platform has just superseded: each business call is refused (40001),
reported, and retried, and the whole fleet costs exactly one more fetch.
A C worker on each host (no business calls) follows the new token."""
import time

from conftest import accepted, report, wait_until, worker_env


def test_thirty_two_processes_on_three_hosts_reporting_one_bad_token_cause_one_fetch(redis, hosts, mock_factory):
    mock = mock_factory("wxfleet00000003")
    env = worker_env(mock, redis.url)
    seconds = 15  # bounds the wait below; enough for 35 processes to start on a busy machine
    h = hosts(3)
    reporters = [h[i % 3].start(("php", "python")[i % 2], env, seconds) for i in range(32)]
    followers = [x.start("c", env, seconds) for x in h]
    workers = reporters + followers
    wait_until("every worker's first token", lambda: all(w.tokens for w in workers), seconds - 6, workers)
    assert mock.fetches() == 1, "one fetch at cold start for 35 processes on 3 hosts"
    old = workers[0].tokens[0]
    assert all(w.tokens == [old] for w in workers), report(workers)

    mock.admin("supersede", {"appid": mock.appid})
    wait_until("every worker on a new token", lambda: all(len(w.tokens) >= 2 for w in workers), 5, workers)
    time.sleep(1)  # late reports, if any, would fetch again now
    assert mock.fetches() == 2, f"one refresh for the fleet\n{report(workers)}"
    new = workers[0].tokens[1]  # (workers print a token's last 8 characters)
    full = redis.record()["token"]
    assert full.endswith(new) and accepted(mock, full), "Redis holds the new token, and it works"

    for w in workers:
        w.finish(timeout=seconds + 10)
    assert all(w.tokens == [old, new] for w in workers), report(workers)
    refused = [w.refused for w in reporters]
    # Each process was refused once at most: call() reported the token and
    # its retry got the new one (a refused retry would fail the worker).
    assert all(n <= 1 for n in refused), refused
    assert sum(1 for n in refused if n) >= 16, f"most of the 32 reported the bad token: {refused}"
    assert mock.refused_checks() == sum(refused), "every refusal the platform gave was seen and retried"
    assert mock.fetches() == 2
