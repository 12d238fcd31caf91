"""Landing files -> canonical events and quarantine, one hour at a time (hour.py), per source format (formats/).

A regular package, not a namespace: a wheel ships only packages setuptools finds, and a
namespace folder would be left out of it.
"""
