"""Serving stage: an OpenAI-compatible server and a web chat page over one Assistant (`medqa serve`).

app.py builds the FastAPI app (`create_app`), protocol.py holds the wire models, routes.py the endpoints,
errors.py the one error shape, settings.py the serve and backend settings, launch.py `run_serve()`, vllm.py
launching vLLM and fronting it with the gateway.
Submodules are imported directly so that importing one (e.g. vllm.py) does not pull in FastAPI.
"""
