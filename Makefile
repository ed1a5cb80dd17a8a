# Two commands: `make run` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test venv xvfb clean bench

venv: $(STAMP)

# Reinstall when the package metadata changes.
$(STAMP): setup.py setup.cfg package.xml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ros,test,bench]'
	touch $(STAMP)

# Xvfb from Debian when missing (UI tests and the headless demo), with libmtdev (Kivy's
# multitouch input on Linux) and xclip (Kivy's clipboard).
XPKGS := xvfb xauth xdotool libmtdev1 xclip
xvfb:
	@dpkg -s $(XPKGS) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(XPKGS) >/dev/null; }

run: $(STAMP) xvfb
	$(VENV)/bin/robot-touch run $(RUN_ARGS)

test: $(STAMP) xvfb
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/robot-touch bench all

clean:
	rm -rf $(VENV) build install log out *.egg-info
