"""mkctl imports only what the command being run needs: the verb table of ``minik8s.cli.main``
names the module of every verb, and finding the verb on a command line skips global flags."""

from __future__ import annotations

import argparse
import importlib

from minik8s.cli import main
from tests.mkctl_imports import heavy_in, imported_by, ours


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


def test_version_client_imports_only_what_it_needs() -> None:
    """``mkctl version --client``: the parser, its verb and the printer; no kubeconfig (yaml), no
    TLS, no sockets, nothing heavy (issue #18's import budget)."""
    code, modules = imported_by("version", "--client", env={"KUBECONFIG": "/nonexistent/kubeconfig"})
    assert code == 0
    assert heavy_in(modules) == []
    assert "minik8s.cli.misc" in modules
    # at most these (a module dropped from the path needs no change here; one added does)
    assert ours(modules) <= {"minik8s", "minik8s.cli", "minik8s.cli.exits", "minik8s.cli.main", "minik8s.cli.misc",
                             "minik8s.cli.printers", "minik8s.cli.session", "minik8s.errors"}
    assert not {"yaml", "ssl", "socket", "minik8s.client"} & modules
    assert len(modules) <= 40, sorted(modules)  # 35 when this budget was set
