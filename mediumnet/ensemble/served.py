"""The served ensemble as an MLflow "model from code" script (never imported by mediumnet).

``mlflow.pyfunc.save_model(python_model=<this file>)`` stores this script instead of a
pickled object; loading the model runs it, and it names the model class to load.
"""

from mlflow.models import set_model

from mediumnet.ensemble.model import MediumnetEnsemble

set_model(MediumnetEnsemble())
