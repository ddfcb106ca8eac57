"""timbrel_tools: the project's own tools around the build tree. Not part of the installable
`timbrel` package: they need a checkout with `make build` done (the built plugin in dist/, the
native hosts in build/).

- checkout:      the checkout and its built plugin
- model_corpus:  the test models and broken model files the build exports (CMake runs it)
- reference:     the plugin's signal path re-run in Python on a model file (the tests compare)
- rthost:        the plugin in real-time mode through tests/native's timbrel_rt_host
- demo:          `make demo`
- bench:         `make bench`
"""
