"""``probe.html``: one self-contained page of a probe's scores (no network, no external files).

Per-token results colour each token by the chosen emotion's score on a diverging scale around 0, clipped at
the 98th percentile of |score| over every token of that emotion and layer (the clip is stated on the page);
hovering a token lists its top 5 emotions. Pooled results list each text's top emotions. Selectors choose
the emotion and the layer.
"""

from __future__ import annotations

import html
import json

import numpy as np

CLIP_PERCENTILE = 98

_SCRIPT = """
const D = JSON.parse(document.getElementById('probe-data').textContent);
const emo = document.getElementById('emotion'), lay = document.getElementById('layer');
D.emotions.forEach((e, i) => emo.add(new Option(e, i)));
D.layers.forEach((l, i) => lay.add(new Option('layer ' + l, i)));
emo.value = D.default_emotion;
function colour(v, clip) {
  const t = Math.max(-1, Math.min(1, v / clip));
  const a = Math.abs(t).toFixed(3);
  return t >= 0 ? `rgba(214,39,40,${a})` : `rgba(31,119,180,${a})`;
}
function top5(row) {
  return row.map((v, j) => [v, j]).sort((a, b) => b[0] - a[0]).slice(0, 5)
    .map(([v, j]) => `${D.emotions[j]} ${v.toFixed(3)}`).join('\\n');
}
function render() {
  const e = +emo.value, l = +lay.value, out = document.getElementById('texts');
  out.innerHTML = '';
  const clip = D.clip[l][e];
  document.getElementById('clip').textContent = clip.toPrecision(3);
  D.texts.forEach((t, i) => {
    const box = document.createElement('div'); box.className = 'text';
    const head = document.createElement('div'); head.className = 'head'; head.textContent = t.id;
    box.appendChild(head);
    if (D.positions === 'tokens') {
      const body = document.createElement('div'); body.className = 'tokens';
      t.pieces.forEach((p, k) => {
        const s = document.createElement('span'); s.textContent = p;
        const row = D.scores[l][i][k];
        s.style.background = colour(row[e], clip);
        s.title = `${JSON.stringify(p)}  ${D.emotions[e]} ${row[e].toFixed(3)}\\n` + top5(row);
        body.appendChild(s);
      });
      box.appendChild(body);
    } else {
      const row = D.scores[l][i];
      const body = document.createElement('div'); body.className = 'pooled';
      body.textContent = t.text;
      const tops = document.createElement('pre'); tops.textContent = top5(row);
      const mark = document.createElement('div'); mark.className = 'score';
      mark.textContent = `${D.emotions[e]}: ${row[e].toFixed(3)}`; mark.style.background = colour(row[e], clip);
      box.append(body, mark, tops);
    }
    out.appendChild(box);
  });
}
emo.onchange = render; lay.onchange = render; render();
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; color: #222; }
.text { border: 1px solid #ddd; border-radius: 6px; padding: .6em .8em; margin: .8em 0; }
.head { font-weight: 600; margin-bottom: .3em; }
.tokens { white-space: pre-wrap; line-height: 1.9; font-family: ui-monospace, monospace; font-size: 90%; }
.tokens span { border-radius: 2px; }
.score { display: inline-block; padding: 0 .4em; margin: .3em 0; border-radius: 3px; }
.legend span { display: inline-block; width: 2em; height: 1em; vertical-align: middle; }
pre { margin: .2em 0; font-size: 85%; }
"""


def probe_page(result, default_emotion: str | None = None) -> str:
    """The page's HTML for a :class:`~emovec.probing.probe.ProbeResult`."""
    emotions = result.emotions
    default = emotions.index(default_emotion) if default_emotion in emotions else 0
    scores, clips = [], []
    for layer in result.layers:
        values = result.scores[layer]
        if result.positions == "tokens":
            scores.append([np.round(v, 4).tolist() for v in values])
            flat = np.concatenate(values) if values else np.zeros((1, len(emotions)))
        else:
            scores.append(np.round(values, 4).tolist())
            flat = np.asarray(values)
        clip = np.percentile(np.abs(flat), CLIP_PERCENTILE, axis=0)
        clips.append(np.where(clip > 0, clip, 1.0).round(6).tolist())
    data = {
        "emotions": emotions, "layers": result.layers, "positions": result.positions, "default_emotion": default,
        "scores": scores, "clip": clips,
        "texts": [{"id": i, "text": t, "pieces": p} for i, t, p in zip(result.ids, result.texts, result.pieces)],
    }  # fmt: skip
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    settings = result.settings
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>emovec probe</title><style>{_STYLE}</style></head>
<body>
<h1>Emotion probe</h1>
<p>Model <code>{html.escape(str(settings.get("model")))}</code>; {result.score} of the activation, centred on
the {html.escape(str(settings.get("reference")))}, with each emotion vector; positions: {result.positions}.</p>
<p><label>emotion <select id="emotion"></select></label> <label><select id="layer"></select></label></p>
<p class="legend"><span style="background:rgba(31,119,180,1)"></span> below 0 &nbsp;
<span style="background:rgba(214,39,40,1)"></span> above 0. Colours are clipped at <b id="clip"></b>, the
{CLIP_PERCENTILE}th percentile of |score| over all tokens for this emotion and layer. Hover a token for its top 5
emotions.</p>
<div id="texts"></div>
<script type="application/json" id="probe-data">{payload}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


def token_heatmap_html(result, layer: int, emotion: str) -> str:
    """Static HTML of each text's tokens coloured by ``emotion`` at ``layer`` (for reports; no script)."""
    j = result.emotions.index(emotion)
    values = result.scores[layer]
    flat = np.concatenate(values)[:, j] if values else np.zeros(1)
    clip = float(np.percentile(np.abs(flat), CLIP_PERCENTILE)) or 1.0
    blocks = []
    for text_id, pieces, scores in zip(result.ids, result.pieces, values):
        spans = []
        for piece, row in zip(pieces, scores):
            t = max(-1.0, min(1.0, float(row[j]) / clip))
            colour = f"rgba(214,39,40,{abs(t):.3f})" if t >= 0 else f"rgba(31,119,180,{abs(t):.3f})"
            top = ", ".join(f"{result.emotions[k]} {row[k]:.2f}" for k in np.argsort(-row)[:5])
            spans.append(f'<span style="background:{colour}" title="{html.escape(top)}">{html.escape(piece)}</span>')
        blocks.append(f"<p><b>{html.escape(str(text_id))}</b><br><span style='white-space:pre-wrap;"
                      f"font-family:monospace'>{''.join(spans)}</span></p>")  # fmt: skip
    return (f"<p>Tokens coloured by <b>{html.escape(emotion)}</b> at layer {layer} (red above 0, blue below; "
            f"clipped at {clip:.3g}, the {CLIP_PERCENTILE}th percentile of |score|); hover for the top 5.</p>"
            + "".join(blocks))  # fmt: skip
