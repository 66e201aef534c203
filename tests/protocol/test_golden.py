"""Golden vectors: literal bytes, ids and signatures from docs/vectors/golden.json.

Checked three ways: our code still produces them byte for byte; they open and their ids
and signatures are what the file says; and each payload equals what a tiny msgpack
encoder written here from docs/protocol.md (not msgspec) makes of its JSON view."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from protocol import ENVELOPE_TAG, SigningKey, check_logs, node_id_text, open_envelope, read_bundle
from protocol.ed25519 import verify
from protocol.errors import ProtocolError
from tests.protocol.golden import build, pack

GOLDEN = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "golden.json").read_text())
BYTES_FIELDS = {"author", "federation", "prev", "key", "new_key", "proof", "a", "b", "ballot", "root", "text_hash",
                "roll", "receipts", "to", "decision", "item", "basis", "replaces", "composite", "submission",
                "campaign", "counted", "absent", "cited", "sources", "selection", "paper", "bundles", "nominations",
                "notice", "aggregate", "evidence", "participations", "salt", "public", "path", "signature",
                "authenticator_data", "client_data"}


def _from_view(value: Any, name: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _from_view(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_view(v, name) for v in value]
    if name in BYTES_FIELDS:
        return bytes.fromhex(value)
    return value


def test_file_matches_what_the_code_makes() -> None:
    assert build() == GOLDEN


def test_keys() -> None:
    for k in GOLDEN["keys"]:
        signer = SigningKey.from_seed(bytes.fromhex(k["seed"]))
        assert signer.public.hex() == k["public"]
        assert node_id_text(signer.public) == k["node_id"]


@pytest.mark.parametrize("vector", GOLDEN["envelopes"], ids=[v["name"] for v in GOLDEN["envelopes"]])
def test_vector(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["envelope"])
    payload = bytes.fromhex(vector["payload"])
    signature = bytes.fromhex(vector["signature"])
    assert hashlib.sha256(raw).hexdigest() == vector["id"]
    assert bytes.fromhex(vector["signing_input"]) == ENVELOPE_TAG + payload
    # the envelope is [1, payload, signature] in msgpack, written out by hand here
    assert raw == b"\x93\x01" + pack(payload) + pack(signature)
    # the payload is exactly the documented encoding of its JSON view
    assert pack(_from_view(vector["payload_json"])) == payload
    env = open_envelope(raw)
    assert env.id.hex() == vector["id"] and env.kind == vector["payload_json"]["body"]["kind"]
    author = next(k for k in GOLDEN["keys"] if k["label"] == vector["author"])
    assert verify(bytes.fromhex(author["public"]), signature, ENVELOPE_TAG + payload)


# Every id and signature, pinned here as well as in the file: regenerating the file from
# the code cannot hide a change of encoding or signing.
PINNED = {
    "genesis": (
        "dd40b3c54a10ce96d40db27be7658554e6c537de0dd6b562a07efb2ab2290db8",
        "7fed57e6306a1dde474b89e74c5a28bde094c3e423684731a5e9496c8cd7819f"
        "caccd9eedf87866e3cafa963205e3ea3dec1798b3f77f8b473100d7447f4300e",
    ),
    "charter": (
        "5c5b4604bf225b6b9c51ab923d4d37325f6f4c452ccc4a9d46ba6063e075d15b",
        "8afd6acf7af9d32469d5e0cc41a583264ff41152ec58edbf091493be1419e096"
        "1d4b07195ebd9115cb600ca362384f635b4b00e95ff3f9fbd3c20965da52a70d",
    ),
    "node_profile": (
        "a2d63071bdb8e8d9045ee84b458f2fd13dfc246d83a4a60fdd9895fbb315eb43",
        "c80e021641020ac1bf1ded1c406b1da10ec800d00c0fa3f0ca25c80adb5a2d63"
        "d5030e1cf181daf4923f783fa15343faa0310ffb425a6f1e26b14341df566204",
    ),
    "fork_side_a": (
        "d9fadc0a22ab5627b315bb5515163ed1625070f23dc040a9199a18e436b125cf",
        "1cadf5d085f384dcba5784cef7fe3c5d2fa603cb853084a4bac8ed8aaf02b03d"
        "1a40dbebf633eff255854ecfec5eeccdfdb1bee42e3ae83900ddac3a7466ae02",
    ),
    "fork_side_b": (
        "370054c6bdcba0e0b79b5df4994e9182f49038847fd27c6fbf5afdc0e0f9b3bd",
        "ca922d05eaca45d5d48efac197bc3d3943d564ec31562439dc75928337368ba2"
        "7ccf59a9bacc6e86aa161ff80e3ff6706e0dde98825b05c9131ded9c33974000",
    ),
    "fork_proof": (
        "ed39be3bd8829f0c2895ab48d5e149888f36b7bbdb4a8da3f22153537dcc21f4",
        "793505d2ee35e172564ddd74650fcce30750d82be933f49ed66e152126217355"
        "e9ff572d4178f1f4e34576af87805ac73ddac6a5016a182b018c223bb439cd0e",
    ),
    "revocation": (
        "c52e8a3b4070f0592b681c231e6ac1c0b8362027695c9f540ee5e4031cedd0e5",
        "33653dad3f28968c4f041b2e2e93f67815df6bd0a3b983d42a36aa128d566f57"
        "93cd909967aa4c65ccaa8cf242f6c7736f66d6255d0a86f939f29c4c26efb10e",
    ),
    "key_rotation": (
        "2b49a9b8872e561fcb8638c63386977b866723ed6c3bb25bae85071828c371ef",
        "e49c5749e03626ebd57aac4bdf179ad40be0b4e5f4b33b6ef8fc0ada24e0e567"
        "59cf31b61bfdbac4902f7ab60120a15d129d125dae287734c96f8e59f0fe8104",
    ),
    "roll": (
        "bb08610b2dfb5ef78766e5d8439ede24ded19c018deffc6d60706adc6a948374",
        "fc8ac4cc856a572d2afdd7849912cc235a42c5e82ce575f4a04cb5286b3568dd"
        "c81254d4ac82c7e29b1a6d189e8ae2e72326afe365357bf6acf090d1ee55f50b",
    ),
    "decision": (
        "9e25a2cdfdd15c98703abe075e1993c53ccb5ce1d83986a0f03eaa511c8c26a4",
        "109208fb893b51676e8bb11185f6e26ce8c99fd53bf2205f93ac23f91302bca5"
        "0e10e7ffd8561cb5c452e67832c4cb4a5b4c746282c168d1e4a118e213a3c60f",
    ),
    "submission": (
        "0cd60ae7dc8e8b84592cba8db7bcd21b08059916c42a66e03234726e2cb0e506",
        "51cc3d608f390fe1bd0f34d15d63fd08cc62118725b774b20238551ebf6d973b"
        "0fe591726427501d148ac0c2407727e3a4d90532df317b4d809127d56962f30a",
    ),
    "agenda_item": (
        "f3106535e24d6f7301a0548cfdbe50a0f31c1364d59ff47639e6cc1e21e01575",
        "1eee0a0d879e35bb7fd3ec4b057da2490b618751249771874405525ec2e0b370"
        "0df45bd9d5f30b7878e6c8ec9f61b0a44c94b36fcd909fced6180df4b2fdeb00",
    ),
    "mandate": (
        "25affc0a02b6f7a03a46ca4c7d924cb1f836691517a82925cb61f09bfaac16cc",
        "34ee4f6f09f7c45a960d506303c878c78eb90d51d24d36ca88e3d2c8d7654b4c"
        "1d1e294a1e482a73dc3f6c1bff060a63d193d296a6572819d2c5858c5fd40207",
    ),
    "aggregate": (
        "ba17fb2854b90904ccdc5e26c9beecb284bcc55e752ae618e6326731d3a8250c",
        "abac29b142dcc95c95678c6a0667de1e04111d815fafd86ec552bca1013774b2"
        "75784897a977094a79841f2504397299f43637cbb3d0c8bfce679bc7cc28af05",
    ),
    "selection": (
        "c22013bc9b66be5669948435ef600e79dbc12330a24b4543b68e274c7b5f7a8f",
        "db55850d76838819cb5e4c98249fff6bf45e214f74ab47405abbfad698f2bd07"
        "d3bfc75a3543a02859b27f27e5de10775cbad2cd7f8de1cee716069ba679bc0f",
    ),
    "nomination_ann": (
        "6ce1b9bcd7198bc7633b73b1108d25ce6f1400c71c0d5d08588dcad8bd17487c",
        "10d32b5b0ec80293787f997cbe8e76c1b078c4ec34dfdc02131dd48f57f2a658"
        "1a63f6e42f5e5cd0645b25f68320561f9ef8383dc3cd0aefae27952718032607",
    ),
    "nomination_bea": (
        "90d89100be6ae8cdb4a95ef519547ad20e1b7be1055dfc1e0c7fb2f9408bea4e",
        "01d99d2b1a6f379a175ab2ed8f97f84567f8a099054fd5109e8ca615b7afd97d"
        "d7155d8e88b3ed6b8855b05f17672b6c5242a4eedb44d306060123a69b67da00",
    ),
    "nomination_col": (
        "9b5f0c1d8c2dec0b5180b0fb84bebe4e3a4132e407a6dd444e7ca13def3e6b5a",
        "b3664ec1d45811cc87c40fde82ea6784d40033e571e50b428edc894d1f7fdcf3"
        "a47c8a950fa99b3150b1d6ca24e12d5b0351d4e2d76a43752bc1d9bca2d4af0e",
    ),
    "ballot_paper": (
        "c6f9843e27a613a5dbfa2092b0f0c2a513512439a88e4c89b3072d103488eb56",
        "40a63a3c25bca40539fe7ac78e0902e7806439b29a7ac6238cfbaa2225ba7d82"
        "c1925431e3c9f8e6f5287159e3a68bee5b5740738a354df6fc5eb1cf819fef0b",
    ),
    "ranked_bundle": (
        "75eb23dfb94dce88388dc8c2b5ed21d6fd04b46d317a8f14f5f6b8ecf9dd6136",
        "15ccd375adbdeb38acdf63490da86d292094d86bca535f7fa90041ee473e0d69"
        "284e7ee6f1f4b51fb979611968e2103d433d6e35c22ba6665a37665cc9abaa06",
    ),
    "selection_result": (
        # Changed 2026-12: the last-vacancy stage's note names the rule as this project's.
        "46936513d9412e3413e8fd21ead25052b5dac564b49c1d281441b55129350da7",
        "092c37356b75210ac515e2103a017f257c402fda2103194a4a3dc04d33ccb713"
        "0d57da21791bfdd4fa8ad648196496c0c8dc899cd2192869d3bf24d64681a207",
    ),
    "campaign": (
        "30c7670741700f3a1f79411e8ef1f844cf0174cb7063d5a0664172271f7b4bad",
        "d34d11d9244a7bde070b9f6ca9ee4493ea909898856278240ad60daaeeb11d28"
        "f2c05bf69eba0badfc783230c0963dd913bad108afd3a65a0fd902545940a700",
    ),
    "pledge": (
        "000864dea970125e16fc55f1d46d34808e103dbc3cbab04e8d999e5cb5e28695",
        "eb739c6e7c56d48d062d7565cf7b0d062ff920ae4f14ec977acdd08a4362f7ed"
        "cb4a2f17ac20b6598a38a670030f5634d64826c167b48bfcbed7d46e36c00706",
    ),
    "withdrawal": (
        "8c5025f8a7613b7f90407560789ab5032511bedc77f18c30c911da4ed95d40d3",
        "23dc72ce68346b3e01caca00bff1b473c98ac60bce62eabbdb2ef93d882e507e"
        "5932294c790e7f0dc3e2e2495f28b94c61309e2921790d4a48fd24f60fcdbc0c",
    ),
    "genesis_with_authority": (
        "2b73854c09a48d4888346d470069b6ac5247848995af4a41f74bad84560da37d",
        "4a9ca4fe3665a9c672b39bbaf03e7a3116e6b40dd31c6a202adec5cd02642574"
        "b4938541e85ddf9ebe348f34b80ae99d24965ef8a8af198359eebf54674db700",
    ),
    "roll_for_a_charter": (
        "94b33e80695cdf159ab0462d2c382eb358c0f813167f0a5f86f23bf103c47670",
        "0b4324e3280c0bcaee81fc1f32ff2c4150c3528eafa9342978c510123c5cdef4"
        "1e57a9a54f9ae11e8381e75bfe6c7eb6c99c4a7b4ff78fb8738be45dd4145605",
    ),
    "decision_on_a_charter": (
        "817ea6a0d418c1023bf5967bb924b0b394a17f9f250e8a295e9f2464b34ea023",
        "c4f4f2c90127b2a44dd89e97e0dd58a3baaa5c958c8f94d85eb268f0bd1e39df"
        "e199eb8e22f7c360b55b47bc188e09e4b522541e7945200ecfd520b35f344108",
    ),
    "charter_with_decision": (
        "56095c58fb34e720a281d1d82ae3c81f9b0b120beb0159dfde26c1c9265fb9df",
        "dc661d3e8b3c1f239afd8e6e1e514dc5487763c06011694eddfbec873b17d3fe"
        "69d51b615cf7fae7466131bea3e2278347abf05073f09f1df8be57d4dba6990d",
    ),
    "roll_for_a_revocation": (
        "643f4c8f08cc4e364e3ae11099d7040e4fae7ef067838c0ead3faeb73df2904e",
        "60fe14fc848cb0333d08d0597028f9e9fe297afa7765e274cb029e12a28c785c"
        "2fbdebf72251d072b809a5321fe3a088c50dca2dba89485bef572ac623687e02",
    ),
    "decision_on_a_revocation": (
        "73413c52b4e962545c506aa4d30a4f9ed39e632bb91e1b238e89bbfe8622131b",
        "3d4d0d9c5ccf2a48fc0543309bd41a30ceecf2fbdf94bf19c4b37ef684b0d6e4"
        "efe6fb7e4f92ee87a31afb1bbfab5f00e2da7c42ceb759cb5e95ddbd1c095f07",
    ),
    "revocation_with_decision": (
        "4fc72b2901580ce6d2e9eef4148d419370b6beb50a8a169bf5819e6d6a22ebd4",
        "d37788d95af9847c91949ff89c41f66041ea38287e6ba19ab2646ecc62d9ffb0"
        "50ee812177b2c3886e00b96102e45112bfb3b5c96083998d062bb763b12ea70a",
    ),
    "freeze": (
        "5676e7a8b8fe2d9ed06c1af1f1d499cb2be56b39c423937e3f58f5a5ac50d117",
        "d93e3ef1567851bdb6bdebee601ed71feeace9e663c06ee92b568b2a60773d5c"
        "da1ff321a28fec06c54d639f583991409ef23d6bb8d31c4d55af6c9e8599520f",
    ),
    "agenda_item_on_the_rules": (
        "d0894ef1192baf8a858b67c7ae5fce79ada1bf35b904c4a8e8c730b740ceabfc",
        "378287da43d005f86259a8123c8d8236d889144f9c77a9d56f3dc24c506c4ab8"
        "5d718bfdb3b066fbc21943b83de9fba9ac25c155f8931135452e7d15ab374d0c",
    ),
    "aggregate_on_the_rules": (
        "735c9c95e781741a7884814e1e9c558283cb9d85a06cb6bfd2500e18c1f6e84b",
        "381d4bfdb6cea63f61ca2bb9e7e20e560ca3b3420c80e466e21bc09666fe9fbd"
        "22763dcf771d63c1e5426c2ceaa85536605c7bcf0f6c1151bb71dd6791fb4509",
    ),
    "rules_change": (
        "bd69a5d7cb60a3fc4c8fa4edb05180b9a1c4b462bf1db5920dd117a217e6cee9",
        "2cac5f09c8c5b303019cb15d8e68b02be8c6f70fa30a0b4a2b908b972011edde"
        "1cc21f1a184d7d21c51d57322f9ae227b80add9ba703872f3d1f16c292f9330d",
    ),
    "roll_with_keys": (
        "f530b3f22d4c43e0f366ae4b447585561562af38741f8854e92ae8a400924a7b",
        "1fe359e429e11191f927079ee13f3d151a9707694f26b96f5060c45e6e03f5eb"
        "e76a3dfc48b11bb95f26c00f745952de9e86717397deaab2c468304f124e0b09",
    ),
    "decision_with_participations": (
        "1482acc1fa81f513cbfcc858e9751cedc5a1bc2388c56f3070b02053acc2779b",
        "7a34cc3014d72f368b3d98df550f13fe3fc1afb5b4b3cc83723f889e34a0b5a9"
        "3c221c35fe15fbc9cde93dff733c9bb834b60e540131e150f63413380abf460a",
    ),
    "nomination_with_consent": (
        "c7edccde0da59825475e2e52c87a6cc2013fa6c038a164f06d0cc244b3527041",
        "4aff2789ffaf18a24e9a8b65f205b81879401ac7c5c97c0c9ebeaf5f93f84253"
        "d61e1a193780976661ca84c917eca6f2c1499d209435f065f35b06baa18efb0e",
    ),
    "roll_for_parts": (
        "6adcc1644b3e002ac7bc384f8e1d728322bb9c8d5967c911273003ff0e922179",
        "0380ee74be50318b416a316d0a0069ef24860307dba09fddafe5eaef2507b215"
        "a39af186d9dfc5876621b13c6a72539c7fe29dbbdd459c91071e6018889dd005",
    ),
    "decision_part_1": (
        "95eaf67971df9423facea41bd289caab9326c74d6a4ef6e9095000fd50ce7862",
        "8cf268a13244d9c8c7b5594916a4c7489d6ef0665f97d8180eeb4f48174d37b8"
        "808296b4b941d51cdd7ea5959c632983782cb47da9bbba9912b18e9577527907",
    ),
    "decision_part_2": (
        "5d225c0233523f9734c911eb51a786449b7791e7606bd8633c495d18af99e6a4",
        "9da0e51e1fff745336f1750953e16cf0f298ed5bd466f0a955d48825dd86d198"
        "56cc12b1f28559a612b9783f27e29b35d55dda11e8097dd6e6a430eaee009203",
    ),
    "decision_part_3": (
        "cbcfd8a899330befa023d8030123102c89b88356a0ac012f1428131ed7c7a398",
        "203094e63cc03ae95cf5630c4b84ad4f8ff816a483a6a9567510105dc24b9b89"
        "6ea84d4399394f32b61cd8670fb31f42e3fb2e81e8faafa4f3ee2537760fbc05",
    ),
    "decision_in_parts": (
        "b16532f584b6d232d9fb49831e1db2f7a91045df6e6e7d871971b0b40604c9fe",
        "5163b17e7b20d0c066417b69f8fe3da6fd3795c51ede90514eb3682f2638e95d"
        "cab8fd5a5baeef186f24a688b0311a32e3bf9e7f9d0fbc2bc21043d3599dea00",
    ),
    "result_part_1": (
        "4f88e03bec3131ba1177fd5555ef4c24b4039a51a838c1d284aff3789273cd5e",
        "0a8144d46a283ac6ec6b6dce2ec8a0df96488b01c85e31a36385fbdfe14b2cb7"
        "6ac0cf940b8dad20e70eaae8abbb9682309bebddc50062f066bc1ef4d712820d",
    ),
    "result_part_2": (
        "01ad4f998e1e5d08aee8979896ab759aaaac033f929fcd4ae913f1dcc0dff04d",
        "da2a506ba27a77d511c6b0dcbc8dc9e448992abe589c8e46895a4f9798fb8208"
        "b6a51bfaccdf13a01491e333671fae946f91c20e236a89dfd17bb85a7bded70b",
    ),
    "result_in_parts": (
        "a986fb32ddd1e48646c3487720a0490ba10b2fbfcb79d4b57150ffeb10ad862b",
        "c310bf0e1678142c6b7215026c7bf09f67d7cfbd3d8ccb8ced9818721ca10a1f"
        "5efa8f7963487023acab7471d2a3f5a94cfda129eebf8320771b1ef613a7490d",
    ),
}


@pytest.mark.parametrize("vector", GOLDEN["envelopes"], ids=[v["name"] for v in GOLDEN["envelopes"]])
def test_every_id_and_signature_is_pinned(vector: dict[str, Any]) -> None:
    assert (vector["id"], vector["signature"]) == PINNED[vector["name"]]
    assert [v["name"] for v in GOLDEN["envelopes"]] == list(PINNED)


@pytest.mark.parametrize("case", GOLDEN["rejections"], ids=[c["name"] for c in GOLDEN["rejections"]])
def test_rejection_vectors(case: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as refused:
        open_envelope(bytes.fromhex(case["envelope"]))
    assert str(refused.value.code) == case["code"]
    if case["field"] is not None:
        assert refused.value.field == case["field"]


@pytest.mark.parametrize("case", GOLDEN["bundles"], ids=[c["name"] for c in GOLDEN["bundles"]])
def test_bundle_verdicts(case: dict[str, Any]) -> None:
    report = check_logs(list(read_bundle(bytes.fromhex(case["bundle"]))), case["now_ms"])
    assert [{"index": f.index, "code": str(f.error.code)} for f in report.failures] == case["failures"]


def test_the_rejections_cover_every_envelope_check() -> None:
    """Each check of docs/protocol.md section 4.1 has a vector (and the pattern rule of section 6)."""
    codes = {c["code"] for c in GOLDEN["rejections"]}
    assert codes >= {"too_large", "malformed", "not_canonical", "bad_version", "unknown_kind", "unknown_field",
                     "bad_field", "bad_signature", "bad_key"}  # fmt: skip
    names = {c["name"] for c in GOLDEN["rejections"]}
    assert {"url_trailing_newline", "level_trailing_newline"} <= names
