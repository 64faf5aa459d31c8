"""dlcore: the from-scratch deep-learning library the cheat sheet's pages run and show.

Plain tensor code (torch and the standard library only), written to be read; `dlcore.reference`
holds the PyTorch built-in twin of each op, used as the oracle in tests and on the pages.
"""
