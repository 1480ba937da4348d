"""Bot-side persistence: SQLAlchemy models, repositories and the aiogram FSM storage on SQL."""
