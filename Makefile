# The two commands of the README's quick start. Each does its own set-up.
.PHONY: demo test setup

demo:
	@./tools/setup.sh
	.venv/bin/rfhound demo

test:
	@./tools/setup.sh --test
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q
