#!/usr/bin/env python3
"""Checks the deployment files of deploy/ against the binary they run: every `llmux <role>`
command line there uses only flags that `llmux <role> --help` lists, and every port a Kubernetes
container, Service or probe names is a port that command listens on (its flags, else the
defaults --help prints), and every metric an autoscaler follows is one docs/metrics.md documents. Usage: deploy_flags_test.py LLMUX_BIN DEPLOY_DIR"""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")


def help_of(binary, role, cache={}):
    """The flags of `llmux <role>` and their defaults, read from its --help."""
    if role not in cache:
        text = subprocess.run([binary, role, "--help"], capture_output=True, text=True, check=True).stdout
        flags = {}
        for m in re.finditer(r"^\s+(?:-\w,)?(--[\w-]+)(?:,--[\w-]+)*(?: (?:\w+)(?:=(\S+))?)?", text, re.M):
            flags[m.group(1)] = m.group(2)
        for m in re.finditer(r",(--[\w-]+)", text):  # aliases such as --allowed-origin,--mcp-allowed-origin
            flags.setdefault(m.group(1), None)
        cache[role] = flags
    return cache[role]


def parse_command(words):
    """(role, {flag: value}) of an `llmux <role> ...` command line, or None."""
    for i, w in enumerate(words):
        if w.endswith("llmux") and i + 1 < len(words):
            role, args, flags = words[i + 1], words[i + 2:], {}
            j = 0
            while j < len(args):
                a = args[j]
                if a.startswith("--"):
                    if "=" in a:
                        k, v = a.split("=", 1)
                    elif j + 1 < len(args) and not args[j + 1].startswith("-"):
                        k, v = a, args[j + 1]
                        j += 1
                    else:
                        k, v = a, None
                    flags[k] = v
                j += 1
            return role, flags
    return None


def check_command(binary, where, words):
    parsed = parse_command(words)
    if parsed is None:
        fail(where, f"no `llmux <role>` in {words}")
        return None
    role, flags = parsed
    try:
        known = help_of(binary, role)
    except subprocess.CalledProcessError as e:
        fail(where, f"`llmux {role} --help` failed: {e.stderr}")
        return None
    for flag in flags:
        if flag not in known:
            fail(where, f"llmux {role} has no flag {flag}")
    return role, flags, known


def listening_ports(role, flags, known):
    ports = set()
    for flag in ("--port", "--grpc-port"):
        if flag in known:
            value = flags.get(flag, known[flag])
            if value is not None:
                ports.add(int(value))
    return ports


def container_command(container):
    words = list(container.get("command", [])) + list(container.get("args", []))
    if len(words) >= 3 and words[0] == "sh" and words[1] == "-c":
        words = shlex.split(words[2].replace("exec ", "", 1))
    return words


def check_kubernetes(binary, path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    container_ports = {}
    for doc in docs:
        kind = doc.get("kind")
        spec = doc.get("spec", {})
        template = spec.get("template", {}).get("spec", {})
        for c in template.get("containers", []):
            where = f"{path.name} {kind} {doc['metadata']['name']}/{c['name']}"
            words = container_command(c)
            if not any(w.endswith("llmux") for w in words):
                continue
            checked = check_command(binary, where, words)
            if checked is None:
                continue
            listens = listening_ports(*checked)
            declared = {p["containerPort"] for p in c.get("ports", [])}
            for p in declared - listens:
                fail(where, f"containerPort {p} is not a port `llmux {checked[0]}` listens on ({sorted(listens)})")
            for probe_name in ("readinessProbe", "livenessProbe"):
                probe = c.get(probe_name) or {}
                for kind_ in ("httpGet", "grpc", "tcpSocket"):
                    if kind_ in probe and probe[kind_]["port"] not in listens:
                        fail(where, f"{probe_name} port {probe[kind_]['port']} is not listened on")
            container_ports[doc["metadata"]["name"]] = declared
    for doc in docs:  # a Service forwards to ports its pods declare
        if doc.get("kind") != "Service":
            continue
        app = doc["spec"].get("selector", {}).get("app")
        if app not in container_ports:
            continue
        for p in doc["spec"]["ports"]:
            if p.get("targetPort", p["port"]) not in container_ports[app]:
                fail(f"{path.name} Service {doc['metadata']['name']}", f"targetPort {p.get('targetPort')} is not declared by {app}")


def check_autoscaler_metrics(path, documented):
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "HorizontalPodAutoscaler":
            continue
        for m in doc["spec"].get("metrics", []):
            source = m.get("external") or m.get("pods") or m.get("object") or {}
            name = source.get("metric", {}).get("name")
            if name and f"`{name}`" not in documented:
                fail(f"{path.name} HorizontalPodAutoscaler", f"metric {name} is not one llmux exports (docs/metrics.md)")


def check_systemd(binary, path):
    for line in path.read_text().splitlines():
        if line.startswith("ExecStart="):
            check_command(binary, path.name, shlex.split(line[len("ExecStart="):]))


def main():
    binary, deploy = sys.argv[1], Path(sys.argv[2])
    yamls = sorted((deploy / "kubernetes").glob("*.yaml"))
    units = sorted((deploy / "systemd").glob("*.service"))
    if not yamls or not units:
        fail(str(deploy), "no Kubernetes manifests or systemd units found")
    documented = (deploy.parent / "docs" / "metrics.md").read_text()
    for p in yamls:
        check_kubernetes(binary, p)
        check_autoscaler_metrics(p, documented)
    for p in units:
        check_systemd(binary, p)
    # The checker itself must catch a wrong flag and a wrong port.
    bad = ["llmux", "gateway", "--no-such-flag=1"]
    before = len(failures)
    check_command(binary, "self-check", bad)
    if len(failures) != before + 1:
        fail("self-check", "an unknown flag was not reported")
    else:
        failures.pop()
    for f in failures:
        print("FAIL", f)
    print(f"checked {len(yamls)} manifests and {len(units)} units: {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
