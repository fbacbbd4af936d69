"""What a fitted posterior is and says: the saved file with its card, the coefficient draws,
predictions, the likelihood terms, diagnostics, and how far a prediction reaches beyond the fitted
runs. numpy, xarray and ArviZ only: nothing here imports PyMC."""
