# The test hub (tests/hub.py): the embedded run's configuration, plus members whose server
# never answers (names starting with `stuck`), for the tests of a spawn that fails slowly,
# names the authenticator refuses (starting with `refused`), and a token that opens
# members' servers.
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (JupyterHub's config loader provides it)
load_subconfig(  # noqa: F821
    str(Path(__file__).resolve().parents[2] / "devtools" / "jupyterhub" / "jupyterhub_config.py")
)

# The tests reach members' servers through the proxy as a service of their own.
c.JupyterHub.services.append(
    {"name": "aixops-tests", "api_token": os.environ["AIXOPS_HUB_TEST_TOKEN"]}
)
c.JupyterHub.load_roles.append(
    {"name": "aixops-tests", "scopes": ["access:servers"], "services": ["aixops-tests"]}
)

c.Authenticator.username_pattern = r"^(?!refused)"

refuse_suspended = c.Spawner.pre_spawn_hook


def never_answer_for_stuck_members(spawner):
    refuse_suspended(spawner)
    if spawner.user.name.startswith("stuck"):
        spawner.cmd = [sys.executable, "-c", "import time; time.sleep(600)"]
        spawner.http_timeout = int(os.environ["AIXOPS_HUB_STUCK_SECONDS"])


c.Spawner.pre_spawn_hook = never_answer_for_stuck_members
