"""The package's layers only import downward, with no circle, checked statically.

Every import counts, at module level or inside a function (a lazy import is still a
dependency), over ``h3ds_hf/`` and the two folders shipped inside it (the datasets builder and
the evaluate metric).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "h3ds_hf"

#: Folders outside h3ds_hf/ that the wheel ships as subpackages (pyproject's package-dir).
SHIPPED = {
    "loading_script": "h3ds_hf.loading_script",
    "metric/h3ds_chamfer": "h3ds_hf.h3ds_chamfer",
}

#: Layers, lowest first: a module may import its own component and anything strictly lower.
LAYERS: list[tuple[str, ...]] = [
    ("h3ds_hf.errors",),
    ("h3ds_hf.scene", "h3ds_hf.atomic", "h3ds_hf.distribution", "h3ds_hf.processes"),
    ("h3ds_hf.render",),
    ("h3ds_hf.release",),
    ("h3ds_hf.evaluation",),
    ("h3ds_hf.synthetic", "h3ds_hf.benchmark"),
    ("h3ds_hf.hub", "h3ds_hf.loading_script"),
    ("h3ds_hf.metric", "h3ds_hf.dropin", "h3ds_hf.export"),
    ("h3ds_hf.space",),
    ("h3ds_hf.demo",),
    ("h3ds_hf.commands",),
    ("h3ds_hf.cli",),
    ("h3ds_hf",),
    ("h3ds_hf.h3ds_chamfer",),
]
#: The datasets builder is the Hub side's own reader of a raw release: one component with it.
SAME_COMPONENT = {"h3ds_hf.loading_script": "h3ds_hf.hub"}

#: Modules allowed loose at the top of h3ds_hf/ (besides __init__.py), at most eight.
MAX_TOP_MODULES = 8


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package and the shipped folders."""
    folders = {PACKAGE: "h3ds_hf", **{ROOT / path: name for path, name in SHIPPED.items()}}
    modules = {}
    for folder, prefix in folders.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([prefix, *parts])] = path
    return modules


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """Package modules that ``module`` imports anywhere in its file (its ancestors excluded:
    importing ``h3ds_hf.hub.rows`` runs ``h3ds_hf.hub`` first, which is not a dependency)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name in known and name != module and not module.startswith(name + "."):
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {module: imported(module, path, known) for module, path in files.items()}


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest component prefix of ``module``."""
    best, best_length = None, -1
    for index, components in enumerate(LAYERS):
        for component in components:
            if (module == component or module.startswith(component + ".")) and len(
                component
            ) > best_length:
                best, best_length = index, len(component)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best


def component_of(module: str) -> str:
    component = max(
        (c for layer in LAYERS for c in layer if module == c or module.startswith(c + ".")),
        key=len,
    )
    return SAME_COMPONENT.get(component, component)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph, as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for successor in sorted(graph[node]):
            if state.get(successor) == 1:
                return stack[stack.index(successor) :] + [successor]
            if successor not in state and (cycle := visit(successor)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_cycle_finder_finds_a_circle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_graph_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from h3ds_hf.hub import rows\n    import h3ds_hf.metric\n")
    known = {"h3ds_hf.hub", "h3ds_hf.hub.rows", "h3ds_hf.metric"}
    assert imported("h3ds_hf.release.m", source, known) == known


def test_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_layers_only_import_downward():
    upward = [
        f"{module} ({component_of(module)}) imports {target} ({component_of(target)})"
        for module, targets in import_graph().items()
        for target in targets
        if layer_of(target) > layer_of(module)
        or (layer_of(target) == layer_of(module) and component_of(target) != component_of(module))
    ]
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_few_modules_loose_at_the_top():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= MAX_TOP_MODULES, loose


def test_benchmark_names_do_not_pull_in_the_evaluation():
    """The Hub layer reads config names from h3ds_hf.benchmark.names; the package's
    ``evaluate_folder`` export is lazy so that this does not import the compiled kernels."""
    code = textwrap.dedent(
        """
        import sys
        import h3ds_hf.benchmark.names
        assert "h3ds_hf.evaluation" not in sys.modules, "evaluation imported"
        import h3ds_hf.benchmark as benchmark
        from h3ds_hf.benchmark.batch import evaluate_folder
        assert benchmark.evaluate_folder is evaluate_folder
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ------------------------------------------------------------------------------ metric_path


LOAD_METRIC = (
    "import h3ds_hf, evaluate, pathlib; path = h3ds_hf.metric_path(); evaluate.load(path); "
    "from h3ds_hf.distribution import import_shipped; "
    "builder = import_shipped('h3ds_hf.loading_script.h3ds').__file__; "
    "print(pathlib.Path(h3ds_hf.__file__).parent, path, pathlib.Path(builder).parent)"
)
#: Drops the import hook of an editable install of h3ds-hf (setuptools' finder maps
#: h3ds_hf.h3ds_chamfer onto metric/ whatever the working directory), to see a wheel alone.
HIDE_EDITABLE = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path "
    "if not getattr(f, '__module__', '').startswith('__editable__')]; "
)


def _run(cwd: Path, site: Path | None = None) -> tuple[Path, Path, Path]:
    """Run LOAD_METRIC in a fresh process; with ``site``, as an installation of the wheel in
    that folder would (``site`` on the path, no editable install).

    Returns:
        the folders h3ds_hf was imported from, of the metric and of the datasets builder.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", (HIDE_EDITABLE if site is not None else "") + LOAD_METRIC],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    package, metric, builder = done.stdout.split()
    return Path(package), Path(metric), Path(builder)


def test_metric_path_from_this_installation(tmp_path):
    """From outside the checkout: whatever this environment installed (editable or wheel)."""
    package, metric, builder = _run(tmp_path)
    assert (metric / "h3ds_chamfer.py").is_file() and (builder / "h3ds.py").is_file()
    assert metric.resolve() in (
        (package / "h3ds_chamfer").resolve(),
        (ROOT / "metric" / "h3ds_chamfer").resolve(),
    )


def test_metric_path_from_the_repository_root():
    """Python started in the checkout imports its h3ds_hf/, which has no h3ds_chamfer/."""
    package, metric, builder = _run(ROOT)
    assert package.resolve() == PACKAGE.resolve()
    assert metric.resolve() == (ROOT / "metric" / "h3ds_chamfer").resolve()
    assert builder.resolve() == (ROOT / "loading_script").resolve()


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory) -> Path:
    """A folder holding h3ds-hf installed from a wheel built from a copy of the checkout
    (offline: no build isolation, no index; the test extra brings setuptools)."""
    where = tmp_path_factory.mktemp("wheel")
    sources = where / "src"
    shutil.copytree(
        ROOT,
        sources,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "*.egg-info", "__pycache__", "build", ".*_cache", ".hypothesis"
        ),
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    for command in (
        ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", "dist", "."],
        ["install", "--no-deps", "--no-index", "-t", "../site", "--find-links", "dist", "h3ds-hf"],
    ):
        subprocess.run([*pip, *command], check=True, capture_output=True, cwd=sources)
    return where / "site"


def test_metric_path_from_a_wheel_outside_and_inside_the_checkout(wheel_site, tmp_path):
    package, metric, builder = _run(tmp_path, wheel_site)
    assert package.resolve() == (wheel_site / "h3ds_hf").resolve()
    assert metric.resolve() == (package / "h3ds_chamfer").resolve()
    assert builder.resolve() == (package / "loading_script").resolve()
    package, metric, builder = _run(ROOT, wheel_site)
    assert package.resolve() == PACKAGE.resolve()
    assert metric.resolve() == (ROOT / "metric" / "h3ds_chamfer").resolve()
    assert builder.resolve() == (ROOT / "loading_script").resolve()
