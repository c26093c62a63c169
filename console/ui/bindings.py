"""Every key of the console in one table: its key, the footer's label, the help text, the
command palette's entry and whether it changes the workspace. The footer, the help modal, the
palette and read-only mode all read this, so they can never disagree.

The order is the footer's: it shows the keys that fit whole, in this order, and when that is not
all of them ends with "… ? all keys" (console/ui/footer.py), so the actions come first (the
write keys, then submit, cancel and monitor), then k9s's filter and `:`, then the rest. Every
action key fits 120 columns; at 80 the rollout keys do. Ids are what the config file's `keymap`
remaps; the number keys follow the panes' order on the screen (`console.ui.panes.PANES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from console.ui.panes import PANES, number


@dataclass(frozen=True)
class Key:
    id: str
    key: str
    action: str
    label: str  # the footer's (short)
    help: str  # the help modal's and the binding's tooltip
    palette: str | None = None  # the command palette's title; None: not in the palette
    palette_help: str | None = None
    mutates: bool = False  # changes the workspace: asks first, refused read-only
    show: bool = True  # in the footer

    @property
    def name(self) -> str:
        """The action without its arguments ("focus_pane" for "focus_pane('jobs')")."""
        return self.action.split("(")[0]

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, id=self.id, show=self.show, tooltip=self.help)


KEYS = (
    Key("deploy_green", "g", "deploy_green", "Green", "Deploy a model version as green, at 0 %",
        "Deploy green", "Create green from a registered model version, at 0 % traffic", mutates=True),
    Key("traffic", "t", "traffic", "Traffic", "Move the selected endpoint's traffic",
        "Traffic", "Move the traffic split of the selected endpoint (sliders, presets, preview)", mutates=True),
    Key("rollback", "b", "rollback", "Rollback", "All traffic back to stable, mirror off",
        "Rollback", "All live traffic back to the stable deployment, mirroring off", mutates=True),
    Key("stop_idle", "x", "stop_idle", "Stop idle", "Stop the selected (or every) idle instance",
        "Stop idle compute", "Stop the selected idle compute instance, or all of them", mutates=True),
    Key("rollout", "o", "rollout", "Rollout", "The selected endpoint's rollout: steps, analyses, chart; steer "
        "it (or start one from specs/rollouts)", "Rollout", "The selected endpoint's rollout, or start one by its plan"),
    Key("submit", "s", "submit", "Submit", "Submit a job YAML: lint, overrides, confirm",
        "Submit job", "Submit a job YAML from specs/jobs or a path: lint, overrides, confirm", mutates=True),
    Key("cancel_job", "c", "cancel_job", "Cancel", "Cancel the selected job",
        "Cancel job", "Cancel the selected job", mutates=True),
    Key("run_monitor", "m", "run_monitor", "Monitor", "Run the selected drift monitor now",
        "Run monitor", "Run the selected drift monitor now", mutates=True),
    Key("filter", "slash", "filter", "Filter", "Filter every pane's rows by any name they show (totals stay whole)",
        "Filter", "Keep the rows whose name contains a text (!text inverts)"),
    Key("jump", "colon", "jump", "Pane", "Jump to a pane: a prefix of its name (:dr, :endpoints, :quota) or its number",
        "Jump to pane", "Jump to a pane by a prefix of its name, as k9s's :"),
    Key("zoom", "z", "zoom", "Zoom", "Zoom the focused pane (esc comes back)",
        "Zoom", "Show the focused pane full screen (esc comes back)"),
    Key("refresh", "r", "refresh", "Refresh", "Read the workspace again now", "Refresh", "Read the workspace again now"),
    Key("quit", "q", "app.quit", "Quit", "Quit"),
    Key("help", "question_mark", "help", "Help", "These keys, with the ids that remap them",
        "Help: keys", "Every key of the console, with the id that remaps it"),
    Key("back", "escape", "back", "Back", "Back: out of the zoomed pane, or from drift features to monitors", show=False),
    *(Key(f"pane.{name}", str(number(name)), f"focus_pane('{name}')", name.title(), f"Go to the {name} pane",
          show=False) for name in PANES),
)
MUTATING = frozenset(k.name for k in KEYS if k.mutates)
