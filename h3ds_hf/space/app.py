"""The Space's gradio Blocks: score an upload, see its error in 3D, read the leaderboard.

Every event handler is a plain function of this module's :class:`SpaceApp` (tested without a
browser, and through ``gradio_client`` against the launched app). Messages shown in the page are
one line, with server paths removed; an unexpected failure is logged and shown as one line.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from huggingface_hub import HfApi

from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
from h3ds_hf.errors import H3DSError
from h3ds_hf.evaluation import (
    LANDMARKS_SUFFIX,
    PREDICTION_SUFFIXES,
    PROTOCOLS,
    load_prediction,
    read_landmarks,
)
from h3ds_hf.space.errormesh import colour_bar_html, write_error_glb
from h3ds_hf.space.leaderboard import (
    COLUMNS,
    HubResults,
    board,
    board_table,
    fetch_hub_results,
    views_choices,
)
from h3ds_hf.space.settings import WHAT_TO_SET, NotConfiguredError, SpaceSettings
from h3ds_hf.space.tables import (
    SCENE_COLUMNS,
    benchmark_table,
    card_command,
    scene_rows,
    table_note,
)
from h3ds_hf.space.uploads import (
    UploadError,
    extract_predictions,
    is_mesh_file,
    parse_prediction_name,
    stage_mesh,
)

logger = logging.getLogger(__name__)

#: How long the leaderboard read from the Hub is reused, in seconds.
LEADERBOARD_TTL_S = 300.0
#: Absolute directory prefixes, removed from every message shown in the page (not URLs).
_DIRECTORIES = re.compile(r"(?<![\w.:/])(?:[A-Za-z]:)?[/\\](?:[^/\\\s'\"]+[/\\])+")

INTRO = """# H3DS chamfer
Chamfer distance (mm) of few-view 3D head reconstructions to the H3DS ground-truth scans:
**face** (the scan within 95 mm of the nose tip) and **head**, with the official protocol
(comparable with the published tables) or the point-to-surface one. Upload one reconstruction
named `{scene_id}_{views}.ply` (or .obj / .glb; optionally its `{scene_id}_{views}.landmarks.json`),
or a `.zip` of a whole predictions folder: the numbers equal those of `h3ds-hf evaluate`."""


def one_line(error: BaseException | str) -> str:
    """A message on one line, without server directories."""
    text = str(error) or type(error).__name__
    return " ".join(_DIRECTORIES.sub("", text).split())


def _shown(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Errors of a handler shown in the page as one line (gr.Error), never a traceback."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except (H3DSError, OSError) as error:
            raise gr.Error(one_line(error), print_exception=False) from None
        except Exception:
            logger.exception("unexpected failure in %s", handler.__name__)
            raise gr.Error(
                "unexpected error; the Space's logs have the details", print_exception=False
            ) from None

    return wrapper


@dataclass(frozen=True)
class Upload:
    """An upload sorted out: a zip, or one mesh with optional landmarks."""

    archive: Path | None = None
    mesh: Path | None = None
    landmarks: Path | None = None


def classify(files: list[str] | None) -> Upload:
    """Sort the uploaded paths: one .zip alone, or one mesh and at most one .json."""
    paths = [Path(f) for f in files or []]
    if not paths:
        raise UploadError("upload a reconstruction (.ply, .obj, .glb) or a .zip of a folder")
    archives = [p for p in paths if p.name.lower().endswith(".zip")]
    meshes = [p for p in paths if is_mesh_file(p.name)]
    jsons = [p for p in paths if p.name.lower().endswith(".json")]
    if len(archives) + len(meshes) + len(jsons) != len(paths):
        raise UploadError("only .ply, .obj, .glb, .landmarks.json and .zip files are scored")
    if archives:
        if len(paths) > 1:
            raise UploadError("upload the .zip alone (it holds the whole predictions folder)")
        return Upload(archive=archives[0])
    if len(meshes) != 1 or len(jsons) > 1:
        raise UploadError("upload one reconstruction (and at most its .landmarks.json)")
    return Upload(mesh=meshes[0], landmarks=jsons[0] if jsons else None)


@dataclass
class Scored:
    """What a scoring left on the server for the 3D view (a session's gr.State)."""

    work: Path
    folder: Path
    ok: list[str]


def _remove_work(state: Scored | None) -> None:
    if state is not None:
        shutil.rmtree(state.work, ignore_errors=True)


class SpaceApp:
    """The Space's handlers around its settings (``H3DS_DATASET``) and a Hub client."""

    def __init__(self, settings: SpaceSettings, api: HfApi | None = None) -> None:
        self.settings = settings
        self._api = api
        self._board: tuple[float, HubResults] | None = None
        self._board_lock = threading.Lock()

    @property
    def api(self) -> HfApi:
        if self._api is None:
            self._api = HfApi()
        return self._api

    # -- start-up -------------------------------------------------------------------------------
    def page_status(self) -> tuple[str, Any, Any]:
        """The status line and the scene / views dropdowns' choices (never preselected)."""
        empty = gr.update(choices=[], value=None)
        try:
            source = self.settings.source()
        except NotConfiguredError:
            return f"⚠️ **Not configured yet**: {WHAT_TO_SET}.", empty, empty
        except (H3DSError, OSError) as error:
            return (
                f"⚠️ **The ground truth cannot be opened**: {one_line(error)}. Check that you "
                f"{WHAT_TO_SET}.",
                empty,
                empty,
            )
        catalog = source.catalog
        name = self.settings.dataset_id or Path(self.settings.dataset or "").name
        status = (
            f"Ground truth: **{name}**, release {catalog.name} ({len(catalog.scenes)} scenes); "
            "a scene's scan is read when it is first scored, and never offered for download."
        )
        return (
            status,
            gr.update(choices=catalog.scene_ids(), value=None),
            gr.update(choices=catalog.views_config_ids(), value=None),
        )

    # -- upload ---------------------------------------------------------------------------------
    def inspect_upload(self, files: list[str] | None) -> tuple[str, Any, Any]:
        """What will be scored, and whether the scene / views dropdowns are needed."""
        hidden = gr.update(visible=False, value=None)
        if not files:
            return "", hidden, hidden
        try:
            upload = classify(files)
        except UploadError as error:
            return f"⚠️ {one_line(error)}", hidden, hidden
        if upload.archive is not None:
            return (
                f"A predictions folder (**{upload.archive.name}**): every "
                "`{scene_id}_{views}` reconstruction in it is scored.",
                hidden,
                hidden,
            )
        assert upload.mesh is not None
        key = self._known(upload.mesh.name)
        if key is not None:
            return f"Scene **{key[0]}**, **{key[1]} views** (from the file name).", hidden, hidden
        shown = gr.update(visible=True, value=None)
        return (
            f"The file name {upload.mesh.name} does not say a known scene and views config "
            "(`{scene_id}_{views}.ply`): choose them below.",
            shown,
            shown,
        )

    def _known(self, name: str) -> tuple[str, str] | None:
        """(scene, views) from a file name, if the catalog has them (or no catalog is open)."""
        parsed = parse_prediction_name(name)
        if parsed is None:
            return None
        try:
            catalog = self.settings.source().catalog
        except (H3DSError, OSError):
            return parsed.scene_id, parsed.views_config
        known = parsed.scene_id in catalog.scenes and parsed.views_config in (
            catalog.views_config_ids()
        )
        return (parsed.scene_id, parsed.views_config) if known else None

    # -- scoring --------------------------------------------------------------------------------
    def score(
        self,
        files: list[str] | None,
        scene_id: str | None,
        views_config: str | None,
        protocol: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio's idiom)
    ) -> tuple[Any, ...]:
        """Score the upload like ``h3ds-hf evaluate``; returns every output of the Score tab."""
        if protocol not in PROTOCOLS:
            raise UploadError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
        upload = classify(files)
        source = self.settings.source()
        work = Path(tempfile.mkdtemp(prefix="h3ds-space-"))
        try:
            folder = work / "predictions"
            progress(0.0, desc="Reading the upload")
            if upload.archive is not None:
                extract_predictions(
                    upload.archive, folder, max_bytes=self.settings.max_upload_bytes
                )
                method = upload.archive.name.rsplit(".", 1)[0]
            else:
                assert upload.mesh is not None
                scene_id, views_config = self._key(upload.mesh.name, scene_id, views_config)
                stage_mesh(upload.mesh, upload.landmarks, scene_id, views_config, folder)
                method = "upload"
            progress(0.0, desc="Scoring")
            # One process: a server shares its cores between visitors' requests.
            run = evaluate_folder(
                source,
                folder,
                options=EvaluationOptions(protocol=protocol),
                method=method,
                jobs=1,
            )
            results, _csv = run.write(work / "results" / "results.json")
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        ok = [f"{r.scene_id}_{r.views_config}" for r in run.results if r.status == "ok"]
        scored = {r.prediction for r in run.results}
        ignored = sorted(
            p.name for p in folder.iterdir() if is_mesh_file(p.name) and p.name not in scored
        )
        note = table_note(run)
        if ignored:
            shown = ", ".join(ignored[:5]) + (", ..." if len(ignored) > 5 else "")
            note += f"; {len(ignored)} file(s) not scored (not a scene and views config of the "
            note += f"dataset): {shown}"
        state = Scored(work, folder, ok)
        model = self._error_view(state, ok[0]) if ok else None
        rows = [[*row[:-1], one_line(row[-1]) if row[-1] else ""] for row in scene_rows(run)]
        if upload.mesh is not None:  # one scene: the others are not "missing"
            rows = [row for row in rows if row[2] != "missing"]
        return (
            note,
            benchmark_table(run),
            rows,
            str(results),
            card_command(self.settings.dataset_id),
            gr.update(choices=ok, value=ok[0] if ok else None),
            model,
            state,
        )

    def _key(self, name: str, scene_id: str | None, views_config: str | None) -> tuple[str, str]:
        key = self._known(name)
        if key is not None:
            return key
        if not scene_id or not views_config:
            raise UploadError(
                f"{name} does not say its scene and views config ({{scene_id}}_{{views}}.ply): "
                "choose them"
            )
        catalog = self.settings.source().catalog
        catalog.scene(scene_id)  # unknown scene -> UnknownSceneError
        if views_config not in catalog.views_config_ids():
            raise UploadError(f"unknown views config {views_config!r}")
        return scene_id, views_config

    # -- 3D -------------------------------------------------------------------------------------
    def show_error(self, choice: str | None, state: Scored | None) -> str | None:
        """The GLB of one scored prediction coloured by its error (None if nothing is chosen)."""
        if not choice or state is None:
            return None
        if choice not in state.ok:  # the choice comes from the browser
            raise UploadError(f"{choice} was not scored in this session")
        return self._error_view(state, choice)

    def _error_view(self, state: Scored, stem: str) -> str:
        scene_id = stem.rsplit("_", 1)[0]
        mesh = next(
            state.folder / f"{stem}{s}"
            for s in PREDICTION_SUFFIXES
            if (state.folder / f"{stem}{s}").is_file()
        )
        landmarks_path = state.folder / f"{stem}{LANDMARKS_SUFFIX}"
        landmarks = read_landmarks(landmarks_path) if landmarks_path.is_file() else None
        vertices, faces = load_prediction(mesh)
        gt = self.settings.source().ground_truth(scene_id)
        path, _mean = write_error_glb(
            gt, vertices, faces, landmarks, state.work / "views" / f"{stem}.glb"
        )
        return str(path)

    # -- leaderboard ----------------------------------------------------------------------------
    def hub_results(self, refresh: bool = False) -> HubResults:
        """The Hub's results, read at most every LEADERBOARD_TTL_S seconds."""
        with self._board_lock:
            now = time.monotonic()
            if refresh or self._board is None or now - self._board[0] > LEADERBOARD_TTL_S:
                self._board = (now, fetch_hub_results(self.api, self.settings.dataset_id))
            return self._board[1]

    def leaderboard(
        self, views: str | None, sort_by: str, refresh: bool = False
    ) -> tuple[str, list[list[Any]]]:
        """The note and the rows of one views config ('v2:3'), lower is better."""
        release, _, views_config = (views or "v2:3").partition(":")
        hub = self.hub_results(refresh)
        rows = board_table(board(hub, release, views_config, sort_by))
        return f"{hub.note}. Lower is better; sorted by {sort_by}.", rows

    def refresh_leaderboard(self, views: str | None, sort_by: str) -> tuple[str, list[list[Any]]]:
        """:meth:`leaderboard` read again from the Hub."""
        return self.leaderboard(views, sort_by, refresh=True)


def build_demo(settings: SpaceSettings | None = None, api: HfApi | None = None) -> gr.Blocks:
    """The Space's Blocks (settings default to the environment's: ``H3DS_DATASET``)."""
    app = SpaceApp(settings or SpaceSettings.from_environment(), api)
    first_views = views_choices()[0][1]
    with gr.Blocks(title="H3DS chamfer", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        status = gr.Markdown()
        with gr.Tab("Score"):
            files = gr.File(
                label="reconstruction {scene_id}_{views}.ply|obj|glb (+ .landmarks.json), "
                "or a .zip of a predictions folder",
                file_count="multiple",
                file_types=[".ply", ".obj", ".glb", ".json", ".zip"],
            )
            upload_note = gr.Markdown()
            with gr.Row():
                scene = gr.Dropdown(label="scene", choices=[], value=None, visible=False)
                views = gr.Dropdown(label="views config", choices=[], value=None, visible=False)
                protocol = gr.Radio(list(PROTOCOLS), value="h3ds", label="protocol")
            button = gr.Button("Score", variant="primary", elem_id="score")
            note = gr.Markdown()
            table = gr.Markdown()
            scenes = gr.Dataframe(headers=SCENE_COLUMNS, label="per scene", interactive=False)
            with gr.Row():
                results = gr.File(label="results.json", interactive=False)
                command = gr.Code(
                    label="publish it on your model's card", language="shell", interactive=False
                )
            shown = gr.Dropdown(label="error on the head of", choices=[], value=None)
            model = gr.Model3D(
                label="aligned prediction coloured by its distance to the scan",
                clear_color=(1.0, 1.0, 1.0, 1.0),
            )
            gr.HTML(colour_bar_html())
            state = gr.State(None, time_to_live=3600, delete_callback=_remove_work)
        with gr.Tab("Leaderboard"):
            board_note = gr.Markdown()
            with gr.Row():
                board_views = gr.Dropdown(views_choices(), value=first_views, label="views config")
                sort_by = gr.Radio(["face", "head"], value="face", label="sort by")
                refresh = gr.Button("Refresh from the Hub")
            board_rows = gr.Dataframe(headers=COLUMNS, interactive=False)

        demo.load(_shown(app.page_status), outputs=[status, scene, views], api_name="status")
        files.change(
            _shown(app.inspect_upload), inputs=files, outputs=[upload_note, scene, views],
            api_name="inspect_upload",
        )  # fmt: skip
        button.click(
            _shown(app.score),
            inputs=[files, scene, views, protocol],
            outputs=[note, table, scenes, results, command, shown, model, state],
            api_name="score",
            concurrency_limit=1,
        )
        shown.input(
            _shown(app.show_error), inputs=[shown, state], outputs=model, api_name="show_error"
        )
        board_inputs = [board_views, sort_by]
        show_board = _shown(app.leaderboard)
        demo.load(show_board, board_inputs, [board_note, board_rows], api_name="leaderboard")
        board_views.change(show_board, board_inputs, [board_note, board_rows], api_name=False)
        sort_by.change(show_board, board_inputs, [board_note, board_rows], api_name=False)
        refresh.click(
            _shown(app.refresh_leaderboard), board_inputs, [board_note, board_rows], api_name=False
        )
    return demo
