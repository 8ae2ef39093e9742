"""The export's defaults, in a module that imports nothing (the command line reads them to build its help)."""

DEFAULT_DATASETS = ("shapes:n=500,seed=0", "kriegeskorte92", "digits:image_size=32,n=500")
