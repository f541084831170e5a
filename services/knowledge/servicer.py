"""The gRPC adapter of the knowledge service: unpack the request, call the domain, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

from typing import TypeAlias

import grpc

from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1 import knowledge_service_pb2_grpc
from services.knowledge.service import KnowledgeDomain

Context: TypeAlias = grpc.aio.ServicerContext


class KnowledgeServicer(knowledge_service_pb2_grpc.KnowledgeServiceServicer):
    """coder.knowledge.v1.KnowledgeService."""

    def __init__(self, domain: KnowledgeDomain) -> None:
        self._spaces = domain.spaces
        self._pages = domain.pages
        self._revisions = domain.revisions
        self._comments = domain.comments
        self._templates = domain.templates
        self._recycle = domain.recycle
        self._transfer = domain.transfer
        self._search = domain.search

    # --- spaces ------------------------------------------------------------------------------

    async def CreateSpace(
        self, request: api.CreateSpaceRequest, context: Context
    ) -> api.CreateSpaceResponse:
        return api.CreateSpaceResponse(space=await self._spaces.create(request.space))

    async def GetSpace(
        self, request: api.GetSpaceRequest, context: Context
    ) -> api.GetSpaceResponse:
        return api.GetSpaceResponse(space=await self._spaces.get(request.space_id))

    async def ListSpaces(
        self, request: api.ListSpacesRequest, context: Context
    ) -> api.ListSpacesResponse:
        spaces, token = await self._spaces.list_spaces(request)
        return api.ListSpacesResponse(spaces=spaces, next_page_token=token)

    async def UpdateSpace(
        self, request: api.UpdateSpaceRequest, context: Context
    ) -> api.UpdateSpaceResponse:
        space = await self._spaces.update(request.space, request.update_mask)
        return api.UpdateSpaceResponse(space=space)

    async def SetSpacePermissions(
        self, request: api.SetSpacePermissionsRequest, context: Context
    ) -> api.SetSpacePermissionsResponse:
        space = await self._spaces.set_permissions(request.space_id, request.grants, request.etag)
        return api.SetSpacePermissionsResponse(space=space)

    async def DeleteSpace(
        self, request: api.DeleteSpaceRequest, context: Context
    ) -> api.DeleteSpaceResponse:
        await self._spaces.delete(request.space_id, request.etag)
        return api.DeleteSpaceResponse()

    # --- pages -------------------------------------------------------------------------------

    async def CreatePage(
        self, request: api.CreatePageRequest, context: Context
    ) -> api.CreatePageResponse:
        page = await self._pages.create(request.space_id, request.page, request.page_template_id)
        return api.CreatePageResponse(page=page)

    async def GetPage(self, request: api.GetPageRequest, context: Context) -> api.GetPageResponse:
        return api.GetPageResponse(page=await self._pages.get(request.page_id))

    async def ListPages(
        self, request: api.ListPagesRequest, context: Context
    ) -> api.ListPagesResponse:
        pages, token = await self._pages.list_pages(request)
        return api.ListPagesResponse(pages=pages, next_page_token=token)

    async def UpdatePage(
        self, request: api.UpdatePageRequest, context: Context
    ) -> api.UpdatePageResponse:
        page = await self._pages.update(request.page, request.update_mask, request.summary)
        return api.UpdatePageResponse(page=page)

    async def DeletePage(
        self, request: api.DeletePageRequest, context: Context
    ) -> api.DeletePageResponse:
        trashed = await self._pages.delete(request.page_id, request.etag)
        return api.DeletePageResponse(trashed_pages=trashed)

    async def ListBacklinks(
        self, request: api.ListBacklinksRequest, context: Context
    ) -> api.ListBacklinksResponse:
        pages, token = await self._pages.backlinks(request)
        return api.ListBacklinksResponse(pages=pages, next_page_token=token)

    async def CheckRunbookStep(
        self, request: api.CheckRunbookStepRequest, context: Context
    ) -> api.CheckRunbookStepResponse:
        page = await self._pages.check_step(request.page_id, request.step_id, request.checked)
        return api.CheckRunbookStepResponse(page=page)

    async def ResetRunbook(
        self, request: api.ResetRunbookRequest, context: Context
    ) -> api.ResetRunbookResponse:
        return api.ResetRunbookResponse(page=await self._pages.reset(request.page_id))

    # --- revisions ---------------------------------------------------------------------------

    async def ListPageRevisions(
        self, request: api.ListPageRevisionsRequest, context: Context
    ) -> api.ListPageRevisionsResponse:
        revisions, token = await self._revisions.list_revisions(request)
        return api.ListPageRevisionsResponse(revisions=revisions, next_page_token=token)

    async def GetPageRevision(
        self, request: api.GetPageRevisionRequest, context: Context
    ) -> api.GetPageRevisionResponse:
        revision = await self._revisions.get(request.page_id, request.revision)
        return api.GetPageRevisionResponse(revision=revision)

    async def DiffPageRevisions(
        self, request: api.DiffPageRevisionsRequest, context: Context
    ) -> api.DiffPageRevisionsResponse:
        return await self._revisions.diff(
            request.page_id, request.from_revision, request.to_revision
        )

    async def RestorePageRevision(
        self, request: api.RestorePageRevisionRequest, context: Context
    ) -> api.RestorePageRevisionResponse:
        page = await self._revisions.restore(request.page_id, request.revision, request.etag)
        return api.RestorePageRevisionResponse(page=page)

    # --- comments ----------------------------------------------------------------------------

    async def CreateComment(
        self, request: api.CreateCommentRequest, context: Context
    ) -> api.CreateCommentResponse:
        comment = await self._comments.create(request.page_id, request.comment)
        return api.CreateCommentResponse(comment=comment)

    async def ListComments(
        self, request: api.ListCommentsRequest, context: Context
    ) -> api.ListCommentsResponse:
        comments, token = await self._comments.list_comments(request)
        return api.ListCommentsResponse(comments=comments, next_page_token=token)

    async def UpdateComment(
        self, request: api.UpdateCommentRequest, context: Context
    ) -> api.UpdateCommentResponse:
        comment = await self._comments.update(request.page_id, request.comment, request.update_mask)
        return api.UpdateCommentResponse(comment=comment)

    async def DeleteComment(
        self, request: api.DeleteCommentRequest, context: Context
    ) -> api.DeleteCommentResponse:
        deleted = await self._comments.delete(request.page_id, request.comment_id)
        return api.DeleteCommentResponse(deleted_comments=deleted)

    # --- templates ---------------------------------------------------------------------------

    async def CreatePageTemplate(
        self, request: api.CreatePageTemplateRequest, context: Context
    ) -> api.CreatePageTemplateResponse:
        return api.CreatePageTemplateResponse(
            page_template=await self._templates.create(request.page_template)
        )

    async def GetPageTemplate(
        self, request: api.GetPageTemplateRequest, context: Context
    ) -> api.GetPageTemplateResponse:
        return api.GetPageTemplateResponse(
            page_template=await self._templates.get(request.page_template_id)
        )

    async def ListPageTemplates(
        self, request: api.ListPageTemplatesRequest, context: Context
    ) -> api.ListPageTemplatesResponse:
        templates, token = await self._templates.list_templates(request)
        return api.ListPageTemplatesResponse(page_templates=templates, next_page_token=token)

    async def UpdatePageTemplate(
        self, request: api.UpdatePageTemplateRequest, context: Context
    ) -> api.UpdatePageTemplateResponse:
        template = await self._templates.update(request.page_template, request.update_mask)
        return api.UpdatePageTemplateResponse(page_template=template)

    async def DeletePageTemplate(
        self, request: api.DeletePageTemplateRequest, context: Context
    ) -> api.DeletePageTemplateResponse:
        await self._templates.delete(request.page_template_id, request.etag)
        return api.DeletePageTemplateResponse()

    # --- recycle bin -------------------------------------------------------------------------

    async def ListRecycleBin(
        self, request: api.ListRecycleBinRequest, context: Context
    ) -> api.ListRecycleBinResponse:
        pages, token = await self._recycle.list_bin(request)
        return api.ListRecycleBinResponse(pages=pages, next_page_token=token)

    async def RestorePage(
        self, request: api.RestorePageRequest, context: Context
    ) -> api.RestorePageResponse:
        page, restored = await self._recycle.restore(request.page_id)
        return api.RestorePageResponse(page=page, restored_pages=restored)

    async def PurgePage(
        self, request: api.PurgePageRequest, context: Context
    ) -> api.PurgePageResponse:
        return api.PurgePageResponse(purged_pages=await self._recycle.purge(request.page_id))

    # --- import, export, search --------------------------------------------------------------

    async def ImportPages(
        self, request: api.ImportPagesRequest, context: Context
    ) -> api.ImportPagesResponse:
        return api.ImportPagesResponse(pages=await self._transfer.import_pages(request))

    async def ExportSpace(
        self, request: api.ExportSpaceRequest, context: Context
    ) -> api.ExportSpaceResponse:
        archive, pages = await self._transfer.export(request.space_id)
        return api.ExportSpaceResponse(archive=archive, pages=pages)

    async def SearchPages(
        self, request: api.SearchPagesRequest, context: Context
    ) -> api.SearchPagesResponse:
        return await self._search.search(request)
