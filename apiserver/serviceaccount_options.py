"""The apiserver's ServiceAccount token flags, as kube-apiserver names them, and what they build.

* ``--service-account-signing-key-file``: the private key tokens are signed with (default
  ``<cert-dir>/sa.key``, made with ``sa.pub`` when neither flag names a file);
* ``--service-account-key-file``: public (or private) keys that verify tokens, repeatable
  (default ``sa.pub`` beside the signing key);
* ``--service-account-issuer``: the ``iss`` of new tokens; repeated, every value is accepted
  and the first one is used (default ``https://kubernetes.default.svc.cluster.local``);
* ``--api-audiences``: the audiences the apiserver accepts (default: the issuers);
* ``--service-account-max-token-expiration``: the longest token TokenRequest issues (seconds,
  0 for no limit); ``--service-account-extend-token-expiration``: whether the kubelet's
  3607-second tokens are issued for a year with a ``warnafter``.

:func:`build` gives the TokenRequest settings (``apiserver.serviceaccount_token``) and the
validator the bearer-token authenticator and TokenReview use.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from apiserver.auth import bearer_tokens
from apiserver.auth import serviceaccount_tokens as sat
from apiserver.serviceaccount_token import TokenSettings
from minik8s import pki

__all__ = ["Options", "add_flags", "from_args", "build"]


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    signing_key_file: str | None = None
    key_files: tuple[str, ...] = ()
    issuers: tuple[str, ...] = (sat.DEFAULT_ISSUER,)
    api_audiences: tuple[str, ...] = ()
    max_token_expiration: int = 0
    extend_token_expiration: bool = True


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("ServiceAccount tokens")
    g.add_argument("--service-account-signing-key-file", default=None,
                   help="private key (PEM) that signs ServiceAccount tokens (default <cert-dir>/sa.key, "
                        "made when missing)")
    g.add_argument("--service-account-key-file", action="append", default=[],
                   help="PEM file of keys that verify ServiceAccount tokens (repeatable; default the signing "
                        "key's sa.pub)")
    g.add_argument("--service-account-issuer", action="append", default=[],
                   help=f"issuer of ServiceAccount tokens; repeat to accept older ones, the first is used "
                        f"(default {sat.DEFAULT_ISSUER})")
    g.add_argument("--api-audiences", default="",
                   help="comma-separated audiences the API accepts in tokens (default: the issuers)")
    g.add_argument("--service-account-max-token-expiration", type=int, default=0,
                   help="the longest lifetime in seconds a TokenRequest may get (default 0: no limit)")
    g.add_argument("--service-account-extend-token-expiration", default="true", choices=["true", "false"],
                   help="issue the kubelet's 3607 s tokens for a year with a warnafter claim (default true)")


def from_args(a: argparse.Namespace) -> Options:
    issuers = tuple(a.service_account_issuer) or (sat.DEFAULT_ISSUER,)
    auds = tuple(x.strip() for x in a.api_audiences.split(",") if x.strip())
    return Options(a.service_account_signing_key_file, tuple(a.service_account_key_file), issuers, auds,
                   a.service_account_max_token_expiration, a.service_account_extend_token_expiration == "true")


def build(opts: Options, *, cert_dir: str, cache: Any) -> tuple[TokenSettings, sat.TokenValidator]:
    """Load (or make) the keys; raises OSError or ValueError for unusable key files."""
    signing = opts.signing_key_file
    key_files = list(opts.key_files)
    if signing is None:
        key_path, pub_path = pki.ensure_sa_keys(cert_dir)
        signing = str(key_path)
        if not key_files:
            key_files = [str(pub_path)]
    private = sat.load_private_key(signing)
    public = [k for f in key_files for k in sat.load_public_keys(f)] if key_files else [private.public_key()]
    audiences = opts.api_audiences or opts.issuers
    settings = TokenSettings(sat.TokenIssuer(private, opts.issuers[0]), audiences,
                             opts.max_token_expiration, opts.extend_token_expiration)

    return settings, sat.TokenValidator(public, issuers=opts.issuers, audiences=audiences, get=bearer_tokens.cache_getter(cache))
