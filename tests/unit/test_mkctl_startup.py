"""mkctl imports only what the command being run needs: the verb table of ``minik8s.cli.main``
names the module of every verb, and finding the verb on a command line skips global flags."""

from __future__ import annotations

import argparse
import importlib

from minik8s.cli import main


def test_verb_table_names_the_module_registering_each_verb() -> None:
    registered: dict[str, str] = {}
    for name in main.verb_modules():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"minik8s.cli.{name}").add_parsers(sub, main.global_flags())
        for verb in sub.choices:
            registered[verb] = name
    assert registered == main.VERBS


def test_the_parser_of_one_verb_holds_that_verb_only() -> None:
    parser = main.build_parser("describe")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"describe"}
    full = next(a for a in main.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(full.choices) == set(main.VERBS)


def test_find_verb_skips_global_flags_and_their_values() -> None:
    assert main.find_verb(["get", "pods"]) == "get"
    assert main.find_verb(["-n", "kube-system", "get", "pods"]) == "get"
    assert main.find_verb(["--kubeconfig", "/x", "--context", "c", "describe", "pod", "p"]) == "describe"
    assert main.find_verb(["--kubeconfig=/x", "-v", "8", "logs", "p"]) == "logs"
    assert main.find_verb(["--insecure-skip-tls-verify", "version"]) == "version"
    assert main.find_verb(["--help"]) is None
    assert main.find_verb([]) is None


def test_an_unknown_verb_fails_as_before(capsys) -> None:
    assert main.run(["frobnicate"]) == 1
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err and "'get'" in err
