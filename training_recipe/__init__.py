"""Django-free recipes shared by the labeling app and the PRM library (training_recipe.prm800k)."""
