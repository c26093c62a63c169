"""A candidate that is really bad: an MLflow model that fails a share of its requests (the
scoring server answers an error, which Azure's router and the local one turn into a 424) and
answers each one late. Not a flag in the router: the model itself misbehaves, as a bad release
does, so a rollout's analysis catches it by its numbers.

    python training/flaky.py --out DIR [--share 0.3] [--delay-ms 0]

Run it as a script: the model's class is then saved by value, and the scoring server needs
nothing of this folder to load it. `amlops demo` registers one as churn-flaky, and the rollout
tests and benchmarks/rollout.py deploy it as green.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow.pyfunc


class Flaky(mlflow.pyfunc.PythonModel):
    def __init__(self, share: float, delay_ms: float) -> None:
        self.share, self.delay_ms = share, delay_ms

    def predict(self, context, model_input, params=None):
        import random
        import time

        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        if random.random() < self.share:
            raise RuntimeError("the flaky candidate failed on purpose")
        return [0] * len(model_input)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder to save the model in (must not exist)")
    parser.add_argument("--share", type=float, default=0.3, help="share of requests that fail (default 0.3)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every answer (default 0)")
    args = parser.parse_args(argv)
    if not 0 <= args.share <= 1:
        parser.error(f"--share is between 0 and 1, got {args.share}")
    # Its requirements said, not inferred (MLflow would load the model in a subprocess to find them).
    mlflow.pyfunc.save_model(str(args.out), python_model=Flaky(args.share, args.delay_ms),
                             pip_requirements=[f"mlflow=={mlflow.__version__}"])
    print(f"saved a model that fails {args.share:.0%} of its requests to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
