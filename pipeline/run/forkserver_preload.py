"""Imported once, by the forkserver the redaction workers are forked from; never by the flow.

Why: the workers are forked from a forkserver (``multiprocessing``'s "forkserver" start method):
a fresh interpreter started for the purpose, single-threaded, and the only process that forks.
The run's own process is never forked: it holds threads (Prefect's event loop, the model
process's connections), and a fork of a threaded process can hang on a lock some other thread
held. ``Execution`` names this module in ``set_forkserver_preload``, so the forkserver imports
it, and every worker starts with what it imports already in memory: spaCy, Presidio's
recognisers, onnxruntime and the tokenizer, the redaction package and the gazetteers' word
lists (the same for any study and configuration). A worker then loads only its models.

Everything here is only a speed-up. ``multiprocessing`` ignores a preload module that fails to
import, and a library missing here is imported by the worker itself; a forkserver started
earlier in a long-lived process (``themeflow serve``) keeps its first preload.
"""

from pipeline.run.workers import without_torch

without_torch()  # this process does nothing else, and no thread runs yet (see ``without_torch``)

import onnxruntime  # noqa: E402,F401
import presidio_analyzer.predefined_recognizers  # noqa: E402,F401
import spacy  # noqa: E402,F401
import tokenizers  # noqa: E402,F401

from pipeline.redact import gazetteers  # noqa: E402

gazetteers.first_names()
gazetteers.zipf("the")
