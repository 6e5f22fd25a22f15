"""Mock of dynamical galaxy-cluster mass measurement.

:func:`make_galaxy_clusters` simulates clusters observed through their member
galaxies (flat LambdaCDM background, Evrard et al. velocity dispersions,
projected NFW radii, interlopers) and :func:`cluster_mass_prior` is the
distribution of log-masses it draws from.
"""

from numbers import Real

import numpy as np
from scipy import stats
from scipy.integrate import cumulative_trapezoid
from scipy.special import ndtr, ndtri
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

from skprob.datasets._constraints import N_SAMPLES_CONSTRAINT

# Flat LambdaCDM background of the galaxy-cluster mock. Masses are in h^-1 M_sun
# and lengths in h^-1 Mpc, so the Hubble constant h0 = 0.7 cancels everywhere.
_OMEGA_M = 0.3
_RHO_CRIT_0 = 2.775e11  # critical density today, h^2 M_sun Mpc^-3
_DELTA = 200.0  # M200c: mean density 200 times the critical density

# Evrard et al. (2008) dark-matter velocity dispersion, and the per-cluster
# lognormal scatter applied to it (dex).
_EVRARD_SIGMA_15 = 1082.9  # km/s
_EVRARD_SLOPE = 0.3361
_SIGMA_SCATTER_DEX = 0.04

# Mean number of member galaxies inside the aperture:
# N = _RICHNESS_NORM * (M200c / 1e14 h^-1 M_sun) ** _RICHNESS_SLOPE, with
# lognormal intrinsic scatter _RICHNESS_SCATTER_LN, Poisson sampling, and the
# result clipped to [_MIN_MEMBERS, _MAX_MEMBERS].
_RICHNESS_NORM = 25.0
_RICHNESS_SLOPE = 0.9
_RICHNESS_SCATTER_LN = 0.35
_MIN_MEMBERS = 10
_MAX_MEMBERS = 500

# Observation cylinder, as in the mock observations of Ho et al. (2019):
# projected aperture radius and line-of-sight velocity window.
_APERTURE = 1.6  # h^-1 Mpc
_VELOCITY_CUT = 2500.0  # km/s
_N_VELOCITY_BINS = 10

# Concentration of the galaxy number-density profile (Lin, Mohr & Stanford 2004)
# and its per-cluster lognormal scatter (dex).
_GALAXY_CONCENTRATION = 2.9
_CONCENTRATION_SCATTER_DEX = 0.15

# Halo mass function of Bahcall & Cen (1993): characteristic mass, h^-1 M_sun.
_BAHCALL_CEN_MSTAR = 1.8e14

# Number of grid points on which a log-mass prior is tabulated for its cdf and
# its inverse-cdf sampling.
_PRIOR_GRID_SIZE = 4097


def _flat_density(log_mass):
    return np.ones_like(log_mass)


def _bahcall_cen_density(log_mass):
    """Unnormalised dn/dlog10(M) of Bahcall & Cen (1993)."""
    ratio = 10.0**log_mass / _BAHCALL_CEN_MSTAR
    return (1.0 + 1.0 / ratio) * np.exp(-ratio)


_NAMED_DENSITIES = {
    "flat": _flat_density,
    "halo_mass_function": _bahcall_cen_density,
}


class _LogMassPrior(stats.rv_continuous):
    """A density over log10 M200c, restricted and normalised to [a, b].

    The density is tabulated on a fine grid once: its normalisation and
    cumulative distribution come from the cumulative trapezoid rule on the
    grid, and the quantile function (hence sampling by inverse cdf) from
    linear interpolation of that table. The pdf evaluates the density itself.
    """

    def __init__(self, density, *args, **kwargs):
        self._density = density
        super().__init__(*args, **kwargs)
        grid = np.linspace(self.a, self.b, _PRIOR_GRID_SIZE)
        values = np.asarray(density(grid), dtype=np.float64)
        if values.shape != grid.shape:
            raise ValueError(
                "The mass prior density must map an array of log-masses to an array "
                f"of the same shape; got shape {values.shape} for input {grid.shape}."
            )
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(
                "The mass prior density must be finite and non-negative on "
                f"log_mass_range=({self.a}, {self.b})."
            )
        cumulative = cumulative_trapezoid(values, grid, initial=0.0)
        if not cumulative[-1] > 0:
            raise ValueError(
                f"The mass prior density integrates to zero on log_mass_range=({self.a}, {self.b})."
            )
        self._norm = cumulative[-1]
        self._grid = grid
        self._cdf_table = cumulative / cumulative[-1]

    def _updated_ctor_param(self):
        params = super()._updated_ctor_param()
        params["density"] = self._density
        return params

    def _pdf(self, x):
        return np.asarray(self._density(x), dtype=np.float64) / self._norm

    def _cdf(self, x):
        return np.interp(x, self._grid, self._cdf_table)

    def _ppf(self, q):
        return np.interp(q, self._cdf_table, self._grid)


def _check_log_mass_range(log_mass_range):
    try:
        low, high = (float(bound) for bound in log_mass_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"log_mass_range must be a pair of numbers (low, high), got {log_mass_range!r}."
        ) from exc
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"log_mass_range must be finite with low < high, got {tuple(log_mass_range)!r}."
        )
    return low, high


_MASS_PRIOR_CONSTRAINTS = {
    "mass_prior": [StrOptions(set(_NAMED_DENSITIES)), HasMethods(["pdf"]), callable],
    "log_mass_range": ["array-like"],
}


@validate_params(_MASS_PRIOR_CONSTRAINTS, prefer_skip_nested_validation=True)
def cluster_mass_prior(mass_prior="flat", log_mass_range=(14.0, 15.5)):
    """Return the distribution of cluster log-masses used by make_galaxy_clusters.

    The result is a frozen :mod:`scipy.stats` distribution over
    ``log10(M200c / (h^-1 M_sun))``, supported on and normalised to
    ``log_mass_range``. :func:`make_galaxy_clusters` draws its masses from
    exactly this object, so it is the training (or target) prior to hand to a
    prior-reweighting estimator.

    Parameters
    ----------
    mass_prior : {"flat", "halo_mass_function"}, frozen scipy.stats \
distribution or callable, default="flat"
        The mass distribution, as a density over ``log10 M200c``:

        - ``"flat"``: uniform in log-mass.
        - ``"halo_mass_function"``: the cluster mass function of Bahcall & Cen
          (1993) [1]_, ``dn/dlog10(M) ∝ (1 + M*/M) exp(-M/M*)`` with
          ``M* = 1.8e14 h^-1 M_sun``, i.e. the derivative of their fit
          ``n(>M) ∝ (M/M*)^-1 exp(-M/M*)``. It falls by about 2.5 decades from
          ``10^14`` to ``10^15 h^-1 M_sun``, so low-mass clusters dominate.
        - a frozen scipy.stats distribution (its ``pdf`` is used) or a
          callable mapping an array of log-masses to non-negative density
          values. It is truncated to ``log_mass_range`` and renormalised.

    log_mass_range : tuple of (float, float), default=(14.0, 15.5)
        The lower and upper bounds of ``log10(M200c / (h^-1 M_sun))``.

    Returns
    -------
    prior : scipy.stats frozen distribution
        A frozen ``rv_continuous`` with ``pdf``, ``logpdf``, ``cdf``,
        ``ppf``, ``rvs(size, random_state)`` and the other scipy methods. Its
        pdf is the density divided by its integral over ``log_mass_range``;
        its cdf and quantile function are tabulated on a grid of 4097 points,
        and ``rvs`` samples by inverse cdf.

    References
    ----------
    .. [1] N. A. Bahcall and R. Cen, "The mass function of clusters of
           galaxies", The Astrophysical Journal 407, L49-L52, 1993.

    Examples
    --------
    >>> from skprob.datasets import cluster_mass_prior
    >>> prior = cluster_mass_prior("halo_mass_function")
    >>> bool(prior.pdf(14.0) > 100 * prior.pdf(15.0))
    True
    >>> prior.rvs(size=3, random_state=0).shape
    (3,)
    """
    low, high = _check_log_mass_range(log_mass_range)
    if isinstance(mass_prior, str):
        density, name = _NAMED_DENSITIES[mass_prior], mass_prior
    elif hasattr(mass_prior, "pdf"):
        density, name = mass_prior.pdf, "log_mass_prior"
    else:
        density, name = mass_prior, "log_mass_prior"
    return _LogMassPrior(density, a=low, b=high, name=name)()


def _hubble_rate(redshift):
    """E(z) = H(z) / H0 of the flat LambdaCDM background."""
    return np.sqrt(_OMEGA_M * (1.0 + redshift) ** 3 + 1.0 - _OMEGA_M)


def _nfw_projected_mass(s):
    """Projected NFW mass inside radius ``s`` (in units of r_s), up to a constant.

    ``g(s) = ln(s / 2) + F(s)`` with ``F(s) = arccosh(1/s) / sqrt(1 - s^2)``
    for ``s < 1``, ``arccos(1/s) / sqrt(s^2 - 1)`` for ``s > 1`` and ``1`` at
    ``s = 1`` (Bartelmann 1996). ``g`` increases from 0 at ``s = 0``.
    """
    out = np.log(s / 2.0)
    inner = s < 1.0
    outer = s > 1.0
    out[inner] += np.arccosh(1.0 / s[inner]) / np.sqrt(1.0 - s[inner] ** 2)
    out[outer] += np.arccos(1.0 / s[outer]) / np.sqrt(s[outer] ** 2 - 1.0)
    out[~inner & ~outer] += 1.0
    return out


def _projected_nfw_radii(aperture_in_rs, uniform):
    """Draw projected radii (units of r_s) inside each member's aperture.

    Inverse-cdf sampling of the projected NFW profile truncated at
    ``aperture_in_rs``: solves ``g(s) = u g(aperture)`` by interpolation on a
    log-spaced table of the monotone ``g``.
    """
    grid = np.concatenate([[0.0], np.geomspace(1e-6, aperture_in_rs.max(), 2048)])
    table = np.concatenate([[0.0], _nfw_projected_mass(grid[1:])])
    target = uniform * np.interp(aperture_in_rs, grid, table)
    return np.interp(target, table, grid)


def _member_counts(log_mass, generator):
    """Number of member galaxies (members and interlopers) inside the aperture."""
    mean = _RICHNESS_NORM * 10.0 ** (_RICHNESS_SLOPE * (log_mass - 14.0))
    mean *= np.exp(
        _RICHNESS_SCATTER_LN * generator.standard_normal(log_mass.shape)
        - 0.5 * _RICHNESS_SCATTER_LN**2
    )
    counts = generator.poisson(mean)
    return np.clip(counts, _MIN_MEMBERS, _MAX_MEMBERS)


def _cluster_features(cluster, velocity, radius, counts):
    """The 14 summary features of every cluster from its galaxies.

    ``cluster`` gives each galaxy's cluster index (sorted, every cluster
    present), ``velocity`` its line-of-sight velocity in km/s and ``radius``
    its projected radius in units of the aperture.
    """
    n_clusters = counts.size
    n = counts.astype(np.float64)
    bin_width = _VELOCITY_CUT / _N_VELOCITY_BINS
    speed_bin = np.minimum((np.abs(velocity) / bin_width).astype(np.intp), _N_VELOCITY_BINS - 1)
    histogram = (
        np.bincount(
            cluster * _N_VELOCITY_BINS + speed_bin, minlength=n_clusters * _N_VELOCITY_BINS
        ).reshape(n_clusters, _N_VELOCITY_BINS)
        / n[:, np.newaxis]
    )

    def mean_and_std(values):
        mean = np.bincount(cluster, weights=values, minlength=n_clusters) / n
        sq_dev = (values - mean[cluster]) ** 2
        var = np.bincount(cluster, weights=sq_dev, minlength=n_clusters) / (n - 1.0)
        return mean, np.sqrt(var)

    _, velocity_std = mean_and_std(velocity)
    radius_mean, radius_std = mean_and_std(radius)
    return np.column_stack(
        [histogram, np.log10(n), np.log10(velocity_std), radius_mean, radius_std]
    )


@validate_params(
    {
        "n_samples": N_SAMPLES_CONSTRAINT,
        **_MASS_PRIOR_CONSTRAINTS,
        "interloper_fraction": [Interval(Real, 0.0, 1.0, closed="left")],
        "redshift": [Interval(Real, 0.0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_galaxy_clusters(
    n_samples=2000,
    *,
    mass_prior="flat",
    log_mass_range=(14.0, 15.5),
    interloper_fraction=0.1,
    redshift=0.117,
    random_state=None,
):
    """Generate a mock of dynamical galaxy-cluster mass measurement.

    Each sample is a galaxy cluster observed through the line-of-sight
    velocities and projected radii of its member galaxies, summarised in 14
    features; the target is ``log10(M200c / (h^-1 M_sun))``, the units of Ho
    et al. (2019) [1]_ (for ``h = 0.7``, ``M / M_sun = 10^y / 0.7``). For
    every cluster:

    1. The log-mass ``y`` is drawn from ``cluster_mass_prior(mass_prior,
       log_mass_range)``.
    2. The dark-matter velocity dispersion follows Evrard et al. (2008) [2]_,
       ``sigma_DM = 1082.9 km/s * (E(z) M200c / 10^15 h^-1 M_sun)^0.3361``
       (their ``h(z) M200 / 10^15 M_sun`` in h^-1 units), in flat LambdaCDM
       with ``Omega_m = 0.3``, ``E(z)^2 = Omega_m (1 + z)^3 + 1 - Omega_m``.
       It is multiplied by a lognormal scatter of 0.04 dex per cluster, more
       than the 4 % of dark matter alone, standing for galaxy velocity bias
       and dynamical state.
    3. The number of galaxies inside the aperture is Poisson with mean
       ``25 (M200c / 10^14 h^-1 M_sun)^0.9`` times a lognormal intrinsic
       scatter (0.35 in ln), clipped to [10, 500].
    4. Each galaxy is an interloper with probability ``interloper_fraction``.
       Members have Gaussian line-of-sight velocities with standard deviation
       ``sigma_DM`` truncated to the window ``|v| < 2500 km/s``, and projected
       radii from a projected NFW number-density profile (Bartelmann 1996
       [4]_) truncated at the aperture ``R_ap = 1.6 h^-1 Mpc``. Its scale
       radius is ``R200c / c``, with concentration ``c = 2.9`` (Lin, Mohr &
       Stanford 2004 [3]_) times a lognormal scatter of 0.15 dex per cluster,
       ``R200c = (3 M200c / (4 pi 200 rho_c(z)))^(1/3)`` and ``rho_c(z) =
       2.775e11 E(z)^2 h^2 M_sun Mpc^-3``. Interlopers have velocities uniform
       in the window and radii uniform in area inside the aperture. The
       aperture and window are those of the mock observations of Ho et al.
       (2019).

    The 14 features of each cluster (columns of ``X``) are:

    - 0-9: the fraction of its galaxies with ``|v_los|`` in each of 10 bins
      of 250 km/s from 0 to 2500 km/s (the rows sum to 1);
    - 10: ``log10`` of the number of galaxies;
    - 11: ``log10`` of the standard deviation of ``v_los`` (km/s, ``ddof=1``),
      the input of the classical M-sigma power law;
    - 12: the mean projected radius, in units of the aperture;
    - 13: the standard deviation of the projected radius, in units of the
      aperture.

    Parameters
    ----------
    n_samples : int, default=2000
        The number of clusters.

    mass_prior : {"flat", "halo_mass_function"}, frozen scipy.stats \
distribution or callable, default="flat"
        The distribution of ``log10 M200c``; see :func:`cluster_mass_prior`.
        Use ``"flat"`` for training sets and ``"halo_mass_function"`` for a
        realistic, steeply falling population.

    log_mass_range : tuple of (float, float), default=(14.0, 15.5)
        The lower and upper bounds of ``log10(M200c / (h^-1 M_sun))``.

    interloper_fraction : float, default=0.1
        The probability that a galaxy in the observed cylinder is an
        interloper rather than a member, in [0, 1).

    redshift : float, default=0.117
        The redshift of the clusters (that of the simulation snapshot of Ho et
        al. 2019); sets ``E(z)`` in the velocity dispersion and ``R200c``.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the dataset. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, 14)
        The summary features of every cluster, described above.

    y : ndarray of shape (n_samples,)
        ``log10(M200c / (h^-1 M_sun))`` of every cluster.

    See Also
    --------
    cluster_mass_prior : The distribution the log-masses are drawn from.

    Notes
    -----
    Interlopers inflate the velocity dispersion, most of all in low-mass
    clusters, and raise the tail of the velocity histogram; the velocity
    window truncates the members of the most massive clusters and lowers
    their dispersion. The measured dispersion therefore follows a flatter,
    noisier power law than Evrard et al.'s. The histogram, richness and radii
    carry the information to correct for this: with 20000 training and 20000
    test clusters under the default settings, the classical M-sigma power law
    (a straight-line fit of feature 11 against ``y``, inverted) predicts
    ``y`` with a scatter of about 0.25 dex, and
    :class:`~sklearn.ensemble.HistGradientBoostingRegressor` on all 14
    features with about 0.12 dex, the factor of two of Ho et al. (2019).

    References
    ----------
    .. [1] M. Ho, M. M. Rau, M. Ntampaka, A. Farahi, H. Trac and B. Poczos,
           "A Robust and Efficient Deep Learning Method for Dynamical Mass
           Measurements of Galaxy Clusters", The Astrophysical Journal 887,
           25, 2019.

    .. [2] A. E. Evrard et al., "Virial Scaling of Massive Dark Matter Halos:
           Why Clusters Prefer a High Normalization Cosmology", The
           Astrophysical Journal 672, 122-137, 2008.

    .. [3] Y.-T. Lin, J. J. Mohr and S. A. Stanford, "K-band Properties of
           Galaxy Clusters and Groups: Luminosity Function, Radial
           Distribution, and Halo Occupation Number", The Astrophysical
           Journal 610, 745-761, 2004.

    .. [4] M. Bartelmann, "Arcs from a universal dark-matter halo profile",
           Astronomy and Astrophysics 313, 697-702, 1996.

    Examples
    --------
    >>> from skprob.datasets import make_galaxy_clusters
    >>> X, y = make_galaxy_clusters(100, random_state=0)
    >>> X.shape, y.shape
    ((100, 14), (100,))
    >>> bool(y.min() >= 14.0 and y.max() <= 15.5)
    True
    """
    generator = check_random_state(random_state)
    prior = cluster_mass_prior(mass_prior, log_mass_range)
    log_mass = prior.rvs(size=n_samples, random_state=generator)

    hubble_rate = _hubble_rate(redshift)
    sigma = _EVRARD_SIGMA_15 * (hubble_rate * 10.0 ** (log_mass - 15.0)) ** _EVRARD_SLOPE
    sigma *= 10.0 ** (_SIGMA_SCATTER_DEX * generator.standard_normal(n_samples))
    rho_crit = _RHO_CRIT_0 * hubble_rate**2
    r200 = (3.0 * 10.0**log_mass / (4.0 * np.pi * _DELTA * rho_crit)) ** (1.0 / 3.0)
    concentration = _GALAXY_CONCENTRATION * 10.0 ** (
        _CONCENTRATION_SCATTER_DEX * generator.standard_normal(n_samples)
    )
    aperture_in_rs = concentration * _APERTURE / r200

    counts = _member_counts(log_mass, generator)
    cluster = np.repeat(np.arange(n_samples), counts)
    n_galaxies = cluster.size
    interloper = generator.uniform(size=n_galaxies) < interloper_fraction

    member_sigma = sigma[cluster]
    window = 2.0 * ndtr(_VELOCITY_CUT / member_sigma) - 1.0
    velocity = member_sigma * ndtri(0.5 + window * (generator.uniform(size=n_galaxies) - 0.5))
    member_aperture = aperture_in_rs[cluster]
    radius = (
        _projected_nfw_radii(member_aperture, generator.uniform(size=n_galaxies)) / member_aperture
    )
    n_interlopers = np.count_nonzero(interloper)
    velocity[interloper] = generator.uniform(-_VELOCITY_CUT, _VELOCITY_CUT, n_interlopers)
    radius[interloper] = np.sqrt(generator.uniform(size=n_interlopers))

    X = _cluster_features(cluster, velocity, radius, counts)
    return X, log_mass
