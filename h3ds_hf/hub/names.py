"""Names the command line shows before it imports the Hub stack (datasets, huggingface_hub)."""

#: Repository id used in the card's examples when none is given.
PLACEHOLDER_REPO_ID = "<org>/h3ds"
#: The framework named by default: this package, until the Hub lists a framework for it.
EVALUATION_FRAMEWORK = "h3ds-hf"
#: Where the eval results live in a model repository.
EVAL_RESULTS_PATH = ".eval_results/h3ds.yaml"
#: The benchmark declaration's name at the dataset repository's root.
EVAL_YAML = "eval.yaml"
