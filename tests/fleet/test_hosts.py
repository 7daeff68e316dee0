"""The simulated hosts are really apart: each has its own hostname and its
own /dev/shm, so the default file store is per host, and only Redis can
connect them. (Without this, every fleet result below could come from a
shared file store.)"""
import os
import socket

from conftest import worker_env


def test_each_host_has_its_own_hostname_and_dev_shm(hosts):
    h = hosts(3)
    assert [x.run("hostname").strip() for x in h] == ["fleet-host1", "fleet-host2", "fleet-host3"]
    assert socket.gethostname() not in {x.name for x in h}
    for x in h:
        x.run("sh", "-c", f"echo {x.name} > /dev/shm/wxtoken-fleet-marker")
    for x in h:
        assert x.run("cat", "/dev/shm/wxtoken-fleet-marker").strip() == x.name
    assert not os.path.exists("/dev/shm/wxtoken-fleet-marker"), "the root's /dev/shm got none"


def test_the_default_file_store_is_per_host_so_three_hosts_fetch_three_times(hosts, mock_factory):
    mock = mock_factory("wxfleet00000001")
    env = worker_env(mock, "file")  # /dev/shm/wxtoken-UID: private to each host
    workers = [x.start("c", env, 1) for x in hosts(3)]
    for w in workers:
        w.finish(timeout=30)
    assert len({w.tokens[0] for w in workers}) == 3, "each host its own token"
    assert mock.fetches() == 3, "each host fetched: nothing is shared but Redis"
