"""python -m model list | promote VERSION | shadow VERSION | shadow --stop | rollback

Champion and challenger for the running job: a change takes effect before its next micro-batch,
without a restart. Each change is a row of the registry's history, with who made it (--by, else
the login name) and when."""
from __future__ import annotations

import argparse
import getpass
import sys

import pymysql

from core.config import ConfigError, load_config
from model.registry import ModelRegistry, RegistryError


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML config (default: PAYMENTS_CONFIG or conf/payments.yaml)")
    parser.add_argument("--by", help="who makes the change (default: the login name)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="stored versions, their test-week figures and roles")
    commands.add_parser("history", help="every change, oldest first")
    commands.add_parser("promote", help="make VERSION the champion").add_argument("version")
    shadow = commands.add_parser("shadow", help="score VERSION beside the champion (never decides)")
    shadow.add_argument("version", nargs="?")
    shadow.add_argument("--stop", action="store_true", help="stop scoring a shadow")
    commands.add_parser("rollback", help="the champion before the latest promotion becomes champion again")
    return parser.parse_args(argv)


def print_versions(registry: ModelRegistry) -> None:
    print(f"{'version':<44} {'role':<9} {'model':<22} {'AP':>6} {'P@100':>6} {'AUC':>6}")
    for row in registry.versions():
        print(f"{row['version']:<44} {row['role']:<9} {row['model']:<22} {row.get('average_precision', ''):>6} "
              f"{row.get('card_precision_at_100', ''):>6} {row.get('roc_auc', ''):>6}")


def print_history(registry: ModelRegistry) -> None:
    for entry in registry.history():
        print(f"{entry.changed_at:%Y-%m-%d %H:%M:%S} {entry.action:<9} champion {entry.assignment.champion} "
              f"shadow {entry.assignment.shadow or '-'} by {entry.changed_by}")


def run(args: argparse.Namespace) -> None:
    registry = ModelRegistry(load_config(args.config))
    if args.command == "list":
        return print_versions(registry)
    if args.command == "history":
        return print_history(registry)
    if args.command == "shadow" and bool(args.version) == args.stop:
        raise RegistryError("name a VERSION to shadow, or --stop")
    action = "unshadow" if args.command == "shadow" and args.stop else args.command
    assignment = registry.apply(action, getattr(args, "version", None), args.by or getpass.getuser())
    print(f"champion: {assignment.champion}; shadow: {assignment.shadow or 'none'} "
          "(the running job switches before its next micro-batch)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except (RegistryError, ConfigError) as error:
        print(f"python -m model {args.command}: {error}", file=sys.stderr)
        return 2
    except pymysql.err.MySQLError as error:
        print(f"python -m model {args.command}: the registry's database cannot be used ({error}); is MySQL up "
              "(make services-up) and migrated?", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
