"""JupyterHub configuration for tests/test_hub_deployment.py (also usable by hand for a local hub).

Everything deployment-specific comes from environment variables, so one file serves every run:

  COOKBOOK_HUB_DIR          a scratch folder: the hub's database, cookie secret, proxy pid file, and
                            one folder per user (<dir>/users/<name>/home and <dir>/users/<name>/work)
  COOKBOOK_HUB_PORT         the public (proxy) port on 127.0.0.1
  COOKBOOK_HUB_API_PORT     the hub's own port (the proxy and single-user servers talk to it)
  COOKBOOK_PROXY_API_PORT   configurable-http-proxy's REST API port
  COOKBOOK_HUB_TOKEN        the API token of the "cookbook-test" service (admin of users and servers)
  COOKBOOK_HUB_PASSWORD     the shared DummyAuthenticator password for form logins
  COOKBOOK_CHP              path to the configurable-http-proxy executable (tests/hub/node_modules/.bin)
  COOKBOOK_SINGLEUSER       path to the jupyterhub-singleuser executable (the venv holding cookbook_ext)
  COOKBOOK_HUB_MARKER       optional: a value copied into every single-user server's environment so the
                            test can find (and stop) every process it started

Manual use: export the variables above and run `jupyterhub -f tests/hub/jupyterhub_config.py`.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (defined by JupyterHub when it loads this file)

HUB_DIR = Path(os.environ["COOKBOOK_HUB_DIR"])
USERS_DIR = HUB_DIR / "users"
SINGLEUSER = os.environ["COOKBOOK_SINGLEUSER"]
VENV_BIN = str(Path(SINGLEUSER).parent)

# -- the hub and its proxy, on loopback only ---------------------------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["COOKBOOK_HUB_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["COOKBOOK_HUB_API_PORT"])
c.JupyterHub.db_url = f"sqlite:///{HUB_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HUB_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the single-user servers
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.check_running_interval = 2  # notice a dead single-user server quickly

c.ConfigurableHTTPProxy.command = [os.environ["COOKBOOK_CHP"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ['COOKBOOK_PROXY_API_PORT'])}"
c.ConfigurableHTTPProxy.pid_file = str(HUB_DIR / "jupyterhub-proxy.pid")
c.ConfigurableHTTPProxy.should_start = True

# -- authentication: any user name, one shared password -----------------------------------------
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["COOKBOOK_HUB_PASSWORD"]
c.Authenticator.allow_all = True

# -- a service whose token administers users and servers (the test's "admin") -------------------
c.JupyterHub.services = [{"name": "cookbook-test", "api_token": os.environ["COOKBOOK_HUB_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "cookbook-test-admin",
        "description": "Create users, start and stop their servers, issue their API tokens.",
        "scopes": ["admin:users", "admin:servers", "tokens"],
        "services": ["cookbook-test"],
    }
]

# -- single-user servers: same OS user (root here), but a home and a root folder per user --------
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(USERS_DIR / "{username}" / "home")
c.Spawner.cmd = [SINGLEUSER]
c.Spawner.args = ["--allow-root"]
c.Spawner.notebook_dir = str(USERS_DIR / "{username}" / "work")
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV"]


def _user_dir(spawner, *parts):
    return str(USERS_DIR / spawner.user.name / "home" / Path(*parts))


c.Spawner.environment = {
    "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    "VIRTUAL_ENV": str(Path(VENV_BIN).parent),
    # Jupyter's per-user folders, as on a machine with one home folder per person; Cookbook's data
    # (store, secrets key, clones) defaults to <JUPYTER_DATA_DIR>/cookbook.
    "JUPYTER_DATA_DIR": lambda spawner: _user_dir(spawner, ".local", "share", "jupyter"),
    "JUPYTER_CONFIG_DIR": lambda spawner: _user_dir(spawner, ".jupyter"),
    "JUPYTER_RUNTIME_DIR": lambda spawner: _user_dir(spawner, ".local", "share", "jupyter", "runtime"),
    "IPYTHONDIR": lambda spawner: _user_dir(spawner, ".ipython"),
    # Nothing reaches the internet from a test deployment.
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # Nor a package index: kernels started by a test deployment install nothing.
    "PIP_NO_INDEX": "1",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "COOKBOOK_HUB_MARKER": os.environ.get("COOKBOOK_HUB_MARKER", ""),
}
