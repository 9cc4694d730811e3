"""A procedural art set that behaves like the real problem, for runs and tests with no internet.

Every medium is drawn from its real cues at two scales:

- **painting** — composition: full bleed, many saturated colour masses, dark-leaning;
  texture: canvas weave, directional brush streaks and stroke edges.
- **engraving** — composition: paper margin, plate mark, dense mid-grey monochrome tone;
  texture: crisp thin parallel and crossed hatching, aquatint grain.
- **drawing** — composition: mostly empty paper, few light objects; texture: soft, grainy
  graphite, charcoal or chalk lines that catch the paper's tooth.
- **gouache_watercolor** — composition: light transparent colour washes, white paper showing
  between them; texture: paper grain, soft wash edges with a darker rim, granulation.
- **photography** — composition: smooth tonal gradients, often colourless, full bleed or a thin
  white border; texture: smooth surfaces with film grain, no lines.

A share of the images (``SynthConfig.disagree_share``) is drawn so that the two scales disagree
on purpose, half of them each way:

- *composition misleads*: a sparse engraving that reads as a drawing when shrunk, a dense
  gouache that reads as oil, a dense charcoal that reads as a print, a colour photograph with
  a painterly palette, an oil sketch that leaves most of the ground bare;
- *texture misleads*: a crayon lithograph (grainy, drawing-like lines), a pen-and-ink drawing
  (crisp, engraving-like lines), a brushy gouache, grainless digital photography, thin glazes
  on a smooth panel.

So a composition-only model and a texture-only model each make errors the other can fix. Each
fake artist has a style (palette, paper tone, line angle and width), so a split that is not
grouped by artist leaks. Output is byte-identical for a given seed.
"""

from mediumnet.data.synth.draw import Image
from mediumnet.data.synth.painters import DRAWERS, render
from mediumnet.data.synth.plan import (
    MEDIUM_TEXTS,
    VARIANTS,
    ArtistStyle,
    WorkSpec,
    check_request,
    plan_works,
)
from mediumnet.data.synth.write import encode_jpeg, synth_summary, synthesize

__all__ = ["DRAWERS", "MEDIUM_TEXTS", "VARIANTS", "ArtistStyle", "Image", "WorkSpec",
           "check_request", "encode_jpeg", "plan_works", "render", "synth_summary",
           "synthesize"]
