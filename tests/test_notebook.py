"""examples/quickstart.ipynb runs from top to bottom (so it cannot rot), and shows what it says."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Jupyter's own machinery


def test_quickstart_notebook_runs_and_recovers_the_pentagon(tmp_path):
    import nbclient
    import nbformat

    notebook = nbformat.read(Path(__file__).parents[1] / "examples" / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "features represented per density: [2 " in text and text.split("density: ")[1].split("]")[
        0
    ].endswith("5")
    assert sum(o.output_type == "display_data" and "image/png" in o.data for o in outputs) == 2
    mmcs = [float(v) for v in text.split("four SAEs: [")[1].split("]")[0].split()]
    assert max(mmcs) > 0.99, mmcs
