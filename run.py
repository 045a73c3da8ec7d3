"""mathml-jax entry point: ``python run.py [experiment=NAME] [key=value ...]``, ``-m`` to sweep.

Intentionally short: Hydra composes the config, ``experiments._cli`` does the rest.
"""

import hydra

from experiments._cli import main as entry
from experiments._cli import run_job


@hydra.main(version_base="1.3", config_path="configs", config_name="config")
def main(cfg) -> int:
    return run_job(cfg)


if __name__ == "__main__":
    # bad input: one clear paragraph, exit 2, before any folder is created; Ctrl-C or
    # SIGTERM: one line, exit 130 or 143
    entry(main)
