"""The embedded default dataset: procedurally drawn faces whose expressions are built from FACS action units.

No downloads and no external images. A parametric face (oval, lidded eyes with irises, brows, nose, lips,
hair) is drawn with anti-aliased OpenCV polygons at twice the output size and downsampled with INTER_AREA.

Expressions are sets of action-unit (AU) intensities in [0, 1] (EMFACS prototypes, :mod:`.expressions`):

==========  ==========================  ====================================================================
label       AUs                         what it looks like
==========  ==========================  ====================================================================
happy       6 + 12 (+25 sometimes)      smile, cheeks up, eyes squeezed into crescents, smile lines
sad         1 + 4 + 15                  inner brows up and together (oblique), mouth corners down
surprise    1 + 2 + 5 + 26              whole brows up, forehead wrinkles, wide eyes, open oval mouth
fear        1 + 2 + 4 + 5 + 20 + 26     raised but drawn-together brows, wide eyes, wide stretched open mouth
angry       4 + 5 + 7 + 23              V-shaped lowered brows, frown lines, glaring narrowed eyes, thin lips
disgust     9 + 10 + 15                 nose wrinkles, raised upper lip baring teeth, corners down
neutral     none                        resting face
==========  ==========================  ====================================================================

How each AU deforms the face (:mod:`.face`): AU1 raises the inner brow ends; AU2 the outer ends and arch;
AU4 lowers the inner ends and pulls them to the midline (frown lines); AU5 lifts the upper lid so sclera
shows above the iris; AU6 pushes the lower lid up and raises the cheeks (crow's feet); AU7 raises and
straightens the lower lid; AU9 wrinkles the nose bridge, lifts and flares the nostrils, lowers the brows
and narrows the eyes; AU10 lifts the upper lip (teeth show); AU12 pulls the mouth corners up and out;
AU15 pulls them down; AU20 stretches them sideways; AU23 thins and narrows the lips; AU25 parts the lips;
AU26 drops the jaw (open oval mouth, longer chin).

Two domains (:mod:`.scene`):

* ``lab``  - posed, frontal, plain background, strong expressions (a CK+/JAFFE stand-in);
* ``wild`` - pose, clutter, occlusion, lighting, grayscale, blur/noise/JPEG, weaker and mixed expressions
  (a RAF-DB stand-in).

Training on ``synth:lab`` and testing on ``synth:wild`` reproduces the cross-domain drop of real FER studies
(``python -m fer_bench.data.synth.shiftcheck`` measures it). Every image is a pure function of
(seed, domain, split, label, index): see :func:`synth_item`.
"""

from .expressions import AU_NAMES, AUS, PROTOTYPES, sample_aus
from .generator import (
    DOMAINS,
    GENERATOR_VERSION,
    generate,
    item_rng,
    render_face,
    sample_grid,
    synth_item,
    write_folder,
)

__all__ = [
    "AUS",
    "AU_NAMES",
    "DOMAINS",
    "GENERATOR_VERSION",
    "PROTOTYPES",
    "generate",
    "item_rng",
    "render_face",
    "sample_aus",
    "sample_grid",
    "synth_item",
    "write_folder",
]
