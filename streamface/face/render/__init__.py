"""The face renderer, one module per layer.

* `common`: hair and eye palettes, layout boxes, crop/paste, sampling (the skin palette,
  the Monk Skin Tone scale, is `face.skin_tones`: the mapping reads it too)
* `geometry`: parameter rows -> per-face proportions and colours (the one place that
  reads `FaceParams` names)
* `skin`: background, shoulders, neck, ears, face shape, soft shading, nose, blush, age
  lines, freckles, beauty mark
* `hair`: the hair style table and hair layers; `facial_hair`: beard styles
* `eyes`: eyes, brows and glasses; `mouth`: lips, teeth, tongue
* `compose`: `FaceRenderer`, the prepare / animate split and the head warp
"""
