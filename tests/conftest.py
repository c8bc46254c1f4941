"""Suite-wide set-up: the project packages are imported first so that TF_USE_LEGACY_KERAS is set before TensorFlow."""
import migration  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any test imports TensorFlow)
