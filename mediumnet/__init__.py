"""mediumnet: tell the technique (medium) of a digitised artwork from its image.

Importing the package is cheap: TensorFlow, MLflow and OpenCV are imported only inside the
functions that need them.
"""

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

__version__ = "0.1.0"

__all__ = ["MEDIUMS", "MediumnetError", "__version__"]
