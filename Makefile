.PHONY: test lint bench format

test:
	pytest

lint:
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks
	mypy

format:
	ruff format src tests benchmarks
	ruff check --fix src tests benchmarks

bench:
	python benchmarks/bench_end_to_end.py
