#!/usr/bin/python3
"""Writes small scikit-learn pickles into DIR as seeds for fuzz_pickle:
linear, lasso, tree, forest and gradient boosting pipelines
(DictVectorizer + regressor) fitted on a few generated rides, with pickle
protocols 2, 4 and 5.  Generated at fuzz time so that no pickle is kept in
the repository.   usage: make_pickle_seeds.py DIR"""
import os
import pickle
import sys

from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeRegressor

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rides = [{"PU_DO": "%d_%d" % (a, b), "trip_distance": a * 0.3 + b * 0.1} for a in range(1, 6) for b in range(1, 6)]
y = [r["trip_distance"] * 3 + len(r["PU_DO"]) for r in rides]
models = {
    "linear": LinearRegression(),
    "lasso": Lasso(alpha=0.01),
    "tree": DecisionTreeRegressor(max_depth=3, random_state=0),
    "forest": RandomForestRegressor(n_estimators=2, max_depth=3, random_state=0),
    "gbr": GradientBoostingRegressor(n_estimators=2, max_depth=2, random_state=0),
}
for name, est in models.items():
    pipe = make_pipeline(DictVectorizer(), est).fit(rides, y)
    for proto in (2, 4, 5):
        with open(os.path.join(out, "%s-p%d.pkl" % (name, proto)), "wb") as f:
            pickle.dump(pipe, f, protocol=proto)
    dv, model = pipe.steps[0][1], pipe.steps[1][1]
    with open(os.path.join(out, "%s-tuple.pkl" % name), "wb") as f:
        pickle.dump((dv, model), f, protocol=4)
