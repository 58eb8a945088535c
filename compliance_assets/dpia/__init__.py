"""The living DPIA: documents beside the code, fingerprints of what an approval covers, and the
review that a change to them opens.

The register loads DPIA documents, so it is imported first whichever module is asked for."""

import compliance_assets.register  # noqa: F401  (breaks the register ↔ DPIA document import cycle)
