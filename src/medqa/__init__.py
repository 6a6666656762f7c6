"""medqa: fine-tune a small open LLM into a careful medical QA assistant, measure it, and serve it.

The stage functions are the Python API; the `medqa` command is a thin layer over them:

    from medqa.config import load_config
    from medqa.data.prepare import run_prepare
    from medqa.training.trainer import run_training
    from medqa.evaluation.runner import run_eval
"""

__version__ = "0.1.0"
