import numpy as np
import pandas as pd
import pytest

from cnnlab import data


@pytest.fixture(scope="module")
def ratings(data_folder):
    return data.load_movielens()


def test_ratings_from_the_local_zip(ratings):
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert len(ratings) == 100_836
    assert ratings.userId.nunique() == 610 and ratings.movieId.nunique() == 9_724
    assert ratings.rating.min() == 0.5 and ratings.rating.max() == 5.0


def test_densest_submatrix_follows_the_documented_rule(ratings):
    matrix = data.densest_ratings(ratings)
    assert matrix.shape == (375, 500)
    values = matrix.to_numpy()
    observed = ~np.isnan(values)
    assert 0.20 < observed.mean() < 0.22  # "about 21% observed"
    assert (values[observed] >= 0.5).all() and not (values == 0).any()  # missing is NaN, never 0
    # movies: the 500 most-rated overall (every kept movie has at least as many ratings as any dropped one)
    counts = ratings.movieId.value_counts()
    kept = counts[matrix.columns]
    assert kept.min() >= counts.drop(matrix.columns).max()
    # users: the 375 with the most ratings of those movies
    per_user = ratings[ratings.movieId.isin(matrix.columns)].userId.value_counts()
    assert per_user[matrix.index].min() >= per_user.drop(matrix.index).max()
    assert np.array_equal(observed.sum(axis=1), per_user[matrix.index].to_numpy())
    # the rating in a cell is the one in the table
    row = ratings.iloc[np.flatnonzero(ratings.userId.isin(matrix.index) & ratings.movieId.isin(matrix.columns))[0]]
    assert matrix.loc[row.userId, row.movieId] == row.rating


def test_densest_submatrix_breaks_ties_by_id():
    table = pd.DataFrame({"userId": [1, 1, 2, 2, 3], "movieId": [10, 20, 10, 20, 30],
                          "rating": [4.0, 3.0, 5.0, 2.0, 1.0]})
    matrix = data.densest_ratings(table, users=1, movies=2)
    assert list(matrix.columns) == [10, 20] and list(matrix.index) == [1]


def test_missing_zip_names_the_variable_and_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    with pytest.raises(data.DataNotFoundError) as error:
        data.load_movielens()
    assert "CNNLAB_DATA" in str(error.value) and "ml-latest-small.zip" in str(error.value)


def test_failed_download_names_the_variable_and_the_file(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(data.DataNotFoundError) as error:
        data.load_movielens()
    message = str(error.value)
    assert "CNNLAB_DATA" in message and "ml-latest-small.zip" in message and "unreachable" in message


def test_course_format_csv_zero_means_missing(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("5,0,3\n0,0,4\n1,2,0\n")
    matrix = data.load_rating_csv(path)
    assert matrix.shape == (3, 3)
    expected = np.array([[5, np.nan, 3], [np.nan, np.nan, 4], [1, 2, np.nan]])
    assert np.array_equal(matrix.to_numpy(), expected, equal_nan=True)
    spaced = tmp_path / "spaced.txt"
    spaced.write_text("5 0 3\n0 0 4\n1 2 0\n")
    assert np.array_equal(data.load_rating_csv(spaced).to_numpy(), expected, equal_nan=True)


def test_clear_errors_for_a_missing_file_and_an_empty_matrix(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="does not exist"):
        data.load_rating_csv(tmp_path / "nope.csv")
    empty = tmp_path / "zeros.csv"
    empty.write_text("0,0\n0,0\n")
    with pytest.raises(ValueError, match="no observed entries"):
        data.load_rating_csv(empty)
    with pytest.raises(ValueError, match="no observed entries"):
        data.densest_ratings(pd.DataFrame({"userId": [], "movieId": [], "rating": []}))
    with pytest.raises(ValueError, match="expected columns"):
        data.densest_ratings(pd.DataFrame({"user": [1], "item": [2], "rating": [3.0]}))
