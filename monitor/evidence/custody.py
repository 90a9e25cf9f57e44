"""The chain-of-custody note of an evidence export (CUSTODY.md), in zh-TW and en: who
exported what and when, with which tool, how the copies were collected, and how anyone
can check them without repwatch. Plain facts, for a lawyer preparing a complaint under
刑法第310條 (defamation) or 第309條 (public insult)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


@dataclass(frozen=True)
class Custody:
    subject: str  # "incident 3" or "mention 12"
    exported_by: str
    exported_at: datetime
    host: str
    tool: str
    mention_ids: tuple[int, ...]
    payloads: int
    fetches: int
    tombstones: int
    versions: int


def custody_note(c: Custody) -> str:
    taipei = c.exported_at.astimezone(TAIPEI)
    ids = ", ".join(f"#{i}" for i in c.mention_ids) or "-"
    return f"""# 證據保全說明 / Chain of custody

## 中文(臺灣)

- 標的:{c.subject};提及(mention)編號:{ids}
- 匯出人:{c.exported_by};匯出時間:{taipei:%Y-%m-%d %H:%M:%S} (臺北時間,UTC+8) / {c.exported_at:%Y-%m-%dT%H:%M:%SZ} (UTC)
- 工具:{c.tool};主機:{c.host}
- 內容:原始回應 {c.payloads} 份(payloads/,檔名即其 SHA-256)、擷取紀錄 {c.fetches} 筆(fetches/:網址、擷取時間、HTTP 狀態、回應標頭)、
  每則提及的完整內容與遮罩版本(mentions/<編號>/unmasked.md、masked.md、record.json),共 {c.versions} 個版本、{c.tombstones} 筆刪除紀錄。

蒐集方式:repwatch 於擷取當下以 HTTPS 向網址所示伺服器取得回應,回應內容未經任何修改即以 SHA-256 雜湊值保存;時間為蒐集主機的系統時鐘(UTC)。
評論被編輯時保留每一個版本;評論自完整列表中消失,或其網址回應 404/410 時,記錄「刪除紀錄」(tombstone)並保留最後一份內容。
不含 Cookie、授權標頭與網址中的金鑰。unmasked.md 含個人資料(個資法),僅供提告或法律諮詢之必要範圍使用;一般分享請用 masked.md。

驗證方式:
1. 執行 `repwatch evidence verify 本檔.zip`,逐一重算雜湊值;或
2. 解壓縮後以 `sha256sum`(Windows:`certutil -hashfile 檔名 SHA256`)計算各檔雜湊值,與 manifest.json 中 files 所列比對;
   payloads/ 下每個檔案的檔名應等於其雜湊值;
3. 整個 zip 檔的雜湊值於匯出時另存為「本檔.zip.sha256」,建議另行交付或列印保存。

本檔可作為依刑法第310條(誹謗)、第309條(公然侮辱)提出告訴時之附件;必要時請律師另行公證或向平台調取紀錄。

## English

- Subject: {c.subject}; mention ids: {ids}
- Exported by: {c.exported_by}; at {c.exported_at:%Y-%m-%dT%H:%M:%SZ} (UTC) / {taipei:%Y-%m-%d %H:%M:%S} (Taipei, UTC+8)
- Tool: {c.tool}; host: {c.host}
- Contents: {c.payloads} raw responses (payloads/, each named by its SHA-256), {c.fetches} fetch records (fetches/: URL,
  fetch time, HTTP status, response headers), and each mention in full and masked (mentions/<id>/unmasked.md,
  masked.md, record.json): {c.versions} versions, {c.tombstones} removal records.

How it was collected: repwatch requested the URL shown over HTTPS and stored the server's response unchanged, with
its SHA-256, at the time shown (the collecting host's clock, UTC). An edited review keeps every version; a review
that disappeared from a complete listing, or whose URL answered 404/410, has a removal record (tombstone) with its
last copy. Cookies, authorization headers and keys in URLs are not kept. unmasked.md holds personal data: use it only
as far as a complaint or legal advice needs; share masked.md otherwise.

How to verify:
1. run `repwatch evidence verify THIS.zip`, which recomputes every hash; or
2. unzip and compute each file's SHA-256 (`sha256sum`; on Windows `certutil -hashfile FILE SHA256`) and compare it
   with the `files` list in manifest.json; each file under payloads/ is named by its own hash;
3. the SHA-256 of the whole zip was written at export to THIS.zip.sha256: keep or hand it over separately.

This export may be attached to a complaint under Taiwan Criminal Code art. 310 (defamation) or 309 (public insult);
a lawyer may add notarisation or request the platform's own records.
"""
