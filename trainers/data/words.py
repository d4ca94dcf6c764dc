"""A built-in list of common English words, and seeded random sentences made of them.

The demo corpus speaks these sentences. Every word is lower-case ASCII letters only, so a
transcript is also a clean target for a character-level CTC task.
"""

from __future__ import annotations

import numpy as np

_TEXT = """
a able about above across act add after again against age ago air all almost alone along
already also always am among an and animal another answer any apple are area arm around art
as ask at away baby back bad bag ball bank base be bear beautiful bed been before began begin
behind being believe bell below best better between big bird black blue board boat body book
both bottom box boy bread break bright bring brother brown build burn busy but buy by call
came can car care carry case cat catch cause center chair change child children city class
clean clear close cloud cold color come common cook cool corn could country course cover cow
cross cry cup cut dance dark day deep did different dinner do doctor does dog done door down
draw dream dress drink drive drop dry during each early earth east easy eat egg eight end
enough even evening ever every eye face fact fall family far farm fast father feel feet few
field fight fill find fine fire first fish five floor flower fly follow food foot for forest
form found four free friend from front fruit full game garden gave get girl give glad glass go
gold good got grass great green ground group grow had hair half hand happy hard has hat have he
head hear heart heavy help her here high hill him his hold home horse hot hour house how
hundred hurt ice idea if in inside into is island it job jump just keep kind king know lady
lake land large last late laugh lead learn leave left leg less letter light like line lion
list listen little live long look lost loud love low made make man many map mark may me mean
meet milk mind minute miss money moon more morning most mother mountain move much music must
my name near need never new next nice night nine no noise north nose not nothing now number of
off often oil old on once one only open or orange other our out over page paper park part
party pass past people pick picture piece place plan plant play please point pool poor press
pretty pull push put queen question quick quiet rain ran read ready real red remember rest
rich ride right ring river road rock room round rule run sad safe said salt same sand sat save
saw say school sea season seat second see seed sell send seven shape she ship shoe shop short
should show side sign simple sing sister sit six size sky sleep slow small smile snow so soft
some song soon sound south space speak spring stand star start stay step still stone stop
story street strong study such summer sun sure table tail take talk tall teach team tell ten
than that the their them then there these they thing think this those three through time to
today together told tomorrow too took top town train tree true try turn two under until up us
use very visit voice wait walk wall want warm was wash watch water wave way we wear weather
week well went were west what wheel when where which white who why wide wild will wind window
winter wish with without woman wonder wood word work world write yard year yellow yes yet you
young
"""

WORDS: tuple[str, ...] = tuple(_TEXT.split())
"""The word list (sorted, unique): a few hundred common English words."""


def random_sentence(rng: np.random.Generator, n_words: int) -> str:
    """``n_words`` words drawn uniformly (with replacement) from :data:`WORDS`, space-separated.

    Deterministic for the generator's state; raises ``ValueError`` when ``n_words < 1``.
    """
    if n_words < 1:
        raise ValueError(f"a sentence needs at least one word, but got {n_words=}")
    picks = rng.integers(0, len(WORDS), size=n_words)
    return " ".join(WORDS[int(i)] for i in picks)
