"""Registered theory-vs-simulation checks of the families beyond the Gaussian, one module per family.

`jaxcollapse.verify` imports every module named in its `CHECK_MODULES`, so `verify.REGISTRY` is
complete as soon as `jaxcollapse.verify` is imported. A module here registers its checks with
`jaxcollapse.verify.register` and may use the helpers of `jaxcollapse.verify` (`compare_z`,
`compare_rel`, `_chains`, `_means`, `_path_means`, ...).
"""
