"""Issue 6, item 4 b-d: 4 C + 4 PHP + 4 Python processes on one host share
one token through the file store, against the simulator over real HTTP."""
import time

from conftest import start_workers


def test_twelve_processes_in_three_languages_share_one_fetch(mock_factory, store):
    mock = mock_factory("wxcross00000001")
    workers = start_workers(mock, store, seconds=1.5)
    for w in workers:
        w.finish(timeout=30)
    firsts = {w.tokens[0] for w in workers}
    assert len(firsts) == 1, f"every process got the same token: {firsts}"
    assert all(len(w.tokens) == 1 for w in workers), "and kept it"
    assert mock.fetches() == 1, "exactly one upstream fetch"
    assert mock.refused_checks() == 0
    assert {w.lang for w in workers} == {"c", "php", "python"}


def test_five_compressed_refresh_cycles_cost_one_fetch_each_and_refuse_nothing(mock_factory, store):
    # 3 s tokens refreshed 1 s early: a refresh every ~2 s; a replaced token
    # keeps working 2 s, longer than the margin.
    mock = mock_factory("wxcross00000002", "--lifetime", "3", "--overlap", "2")
    workers = start_workers(mock, store, seconds=11, margin_s=1)
    for w in workers:
        w.finish(timeout=60)
    seen = [set(w.tokens) for w in workers]
    everyone = set().union(*seen)
    assert len(everyone) >= 5, f"lived through {len(everyone)} tokens"
    assert mock.fetches() == len(everyone), f"{mock.fetches()} fetches for {len(everyone)} tokens: one per cycle"
    assert sum(w.refused for w in workers) == 0, "no business call was refused"
    assert mock.refused_checks() == 0
    assert sum(w.calls for w in workers) > 100
    # Every process followed the same sequence of tokens.
    order = max((w.tokens for w in workers), key=len)
    for w in workers:
        assert w.tokens == order[order.index(w.tokens[0]):][: len(w.tokens)], f"{w.lang}: {w.tokens} vs {order}"


def test_a_superseded_token_is_reported_and_replaced_with_one_fetch(mock_factory, store):
    mock = mock_factory("wxcross00000003")
    workers = start_workers(mock, store, seconds=5)
    time.sleep(2)
    assert mock.fetches() == 1
    mock.admin("supersede", {"appid": mock.appid})
    for w in workers:
        w.finish(timeout=30)
    assert mock.fetches() == 2, "the 8 business processes reported it; one refresh followed"
    reporters = [w for w in workers if w.refused]
    assert reporters, "someone noticed the 40001"
    assert all(w.refused <= 2 for w in workers), "each process was refused at most briefly"
    finals = {w.tokens[-1] for w in workers}
    assert len(finals) == 1, f"everyone ends on the new token, C included: {finals}"
    assert all(len(w.tokens) == 2 for w in workers)
