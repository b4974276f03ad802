# agent0's Python sandbox: the warm worker of the process modes (worker.py, with guard.py) and the
# runner of the WebAssembly mode (wasm_runner.py), both built from these sources by bootstrap.py.
