"""Reports: figures and the self-contained HTML writer shared by studies and the demo."""
