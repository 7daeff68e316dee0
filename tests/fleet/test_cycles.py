"""Three hosts, each running a C, a PHP and a Python worker on one Redis
(classic mode), through five compressed refresh cycles: the whole fleet
costs the platform one fetch per cycle, no business call is refused, and
every worker follows the same sequence of tokens."""
import time

from conftest import ok_checks, report, wait_until, worker_env

LANGS = ("c", "php", "python")


def test_three_hosts_in_three_languages_refresh_five_times_with_one_fetch_each(redis, hosts, mock_factory):
    # 6 s tokens refreshed 2 s early: a refresh every 4-4.5 s (the
    # refresher looks every 500 ms); a replaced token keeps working 3 s.
    mock = mock_factory("wxfleet00000002", "--lifetime", "6", "--overlap", "3")
    env = worker_env(mock, redis.url, margin_s=2)
    workers = [h.start(lang, env, 120) for h in hosts(3) for lang in LANGS]
    wait_until("every worker's first token", lambda: all(w.tokens for w in workers), 30, workers)
    # Cold start, then five refreshes. Snapshot 1.5 s after the last one:
    # everyone has adopted it (poll 500 ms), and the next is >= 2.5 s away.
    wait_until("five refresh cycles", lambda: mock.fetches() >= 6, 6 * 5 + 15, workers)
    time.sleep(1.5)
    fetches = mock.fetches()
    for w in workers:
        assert w.alive(), f"{w} died: {w.err}"
    seen = [list(w.tokens) for w in workers]

    everyone = set().union(*map(set, seen))
    assert fetches == 6, f"{fetches} fetches"
    assert len(everyone) == fetches, f"{len(everyone)} tokens for {fetches} fetches\n{report(workers)}"
    assert mock.refused_checks() == 0, "no business call was refused"
    assert redis.record()["token"].endswith(seen[0][-1]), "Redis holds the fleet's token"
    # Every process followed the same sequence, ending on the same token.
    # (All started within the first token's life, so all saw all six.)
    order = max(seen, key=len)
    for w, tokens in zip(workers, seen):
        assert tokens == order, f"{w}: {tokens} vs {order}"
    assert ok_checks(mock) > 100, "the PHP and Python workers made business calls"
