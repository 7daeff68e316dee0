"""Redis goes away for 3 s across the fleet's refresh point, then comes back
empty. Every host keeps serving its valid token (no business call refused),
nobody fetches alone while Redis is down (in classic mode a lone fetch
would kill the others' token), and the fleet recovers with one fetch."""
import time

from conftest import ok_checks, report, wait_until, worker_env

LANGS = ("c", "php", "python")


def test_redis_down_across_a_refresh_point_costs_one_recovery_fetch_and_no_refused_call(redis, hosts, mock_factory):
    # 15 s tokens refreshed 7 s early: the refresh point is 8 s after the
    # fetch; a replaced token keeps working 5 s.
    mock = mock_factory("wxfleet00000007", "--lifetime", "15", "--overlap", "5")
    env = worker_env(mock, redis.url, margin_s=7)
    workers = [h.start(lang, env, 120) for h in hosts(3) for lang in LANGS]
    wait_until("the cold start's fetch", lambda: mock.fetches() == 1, 10, workers)
    fetched = time.monotonic()
    wait_until("every worker's first token", lambda: all(w.tokens for w in workers), 5, workers)
    old = workers[0].tokens[0]

    def at(t: float) -> None:
        time.sleep(max(0.0, fetched + t - time.monotonic()))

    at(6)
    redis.stop()
    calls_before = ok_checks(mock)
    at(9)  # past the refresh point (8 s)
    assert mock.fetches() == 1, "no fetch while Redis is down"
    assert ok_checks(mock) > calls_before, "business went on"
    redis.start()  # empty: no persistence
    wait_until("the recovery fetch", lambda: mock.fetches() >= 2, 15 - 9, workers)
    recovered = time.monotonic()
    wait_until("everyone on the new token", lambda: all(len(w.tokens) >= 2 for w in workers), 3, workers)
    # Past the old token's end (superseded + 5 s): whoever still used it
    # would be refused now. The next refresh is 8 s after the recovery.
    time.sleep(max(0.0, recovered + 5.5 - time.monotonic()))
    assert mock.fetches() == 2, f"one recovery fetch\n{report(workers)}"
    new = workers[0].tokens[1]
    assert all(w.tokens == [old, new] for w in workers), report(workers)
    assert all(w.alive() for w in workers), report(workers)
    assert redis.record()["token"].endswith(new), "the record is back in Redis"
    assert mock.refused_checks() == 0, "no business call was refused"
