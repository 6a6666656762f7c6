.PHONY: install demo test
install:
	pip install torch==2.13.0 -e ".[dev]"
demo:
	medqa demo
test:
	pytest -q
