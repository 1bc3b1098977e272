"""The store keeps a generation's thread and how it ended: parent, children, cause, next steps, and
the repository's name for the history. On SQLite and PostgreSQL (tests/conftest.py)."""

from __future__ import annotations

from cookbook_ext.store import Store


def test_a_follow_up_is_kept_with_its_parent_and_listed_with_its_repository(store_url):
    store = Store(store_url, owner="dora")
    try:
        repo = store.save_repo(
            {"kind": "local", "checkout": "/r", "name": "tiny-model", "source": "tiny-model"}
        )
        parent = store.create_generation(
            request={"prompt": "p", "template": "quickstart"},
            provider="offline",
            model=None,
            repo_id=repo["id"],
            kernel_id=None,
        )
        child = store.create_generation(
            request={"prompt": "more"},
            provider="offline",
            model=None,
            repo_id=repo["id"],
            kernel_id=None,
            parent_id=parent["id"],
        )
        assert child["parent_id"] == parent["id"] and child["repo_name"] == "tiny-model"
        assert store.children_of(parent["id"]) == [child["id"]]
        assert store.children_of(child["id"]) == []
        steps = [{"action": "install_and_retry", "label": "Install torch and retry", "packages": ["torch"]}]
        store.update_generation(
            child["id"], status="failed", cause="The examples need torch.", next_steps=steps, cells_count=0
        )
        got = store.get_generation(child["id"])
        assert (got["cause"], got["next_steps"], got["cells_count"]) == ("The examples need torch.", steps, 0)
        listed = {g["id"]: g for g in store.list_generations()}
        assert listed[child["id"]]["parent_id"] == parent["id"]
        assert listed[parent["id"]]["repo_name"] == "tiny-model" and listed[parent["id"]]["next_steps"] == []
        # Another owner's server sees neither the thread nor the children.
        other = Store(store_url, owner="eve")
        try:
            assert other.children_of(parent["id"]) == []
        finally:
            other.close()
    finally:
        store.close()
